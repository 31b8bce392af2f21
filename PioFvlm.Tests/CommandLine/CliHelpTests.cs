using System.Text.RegularExpressions;
using PioFvlm.Bench;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.CommandLine;

/// <summary>
/// Command-line conventions, for every verb in <see cref="Cli.Verbs"/> (enumerated, so a new verb is covered as soon as
/// it is registered): --help / -h / help VERB exit 0 with the usage and every option; an unknown option exits 2 naming
/// it; the help lists exactly the options the parser accepts, with the same arity.
/// </summary>
public class CliHelpTests
{
    static IEnumerable<string> AllVerbs() => Cli.Verbs.Select(v => v.Name);

    static CliVerb Verb(string name) => Cli.Verbs.Single(v => v.Name == name);

    /// <summary>Option rows of a help text: "  --name PLACEHOLDER   description" → (name, has a placeholder).</summary>
    static Dictionary<string, bool> HelpOptions(string help) =>
        Regex.Matches(help, @"^  --([A-Za-z][\w-]*)( \S+)?  ", RegexOptions.Multiline)
             .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Success);

    [TestCaseSource(nameof(AllVerbs))]
    public void HelpExitsZeroWithUsageAndEveryOption(string verb)
    {
        foreach (var flag in new[] { "--help", "-h" })
        {
            var (rc, stdout, stderr) = CliRunner.Run(verb, flag);
            Assert.That(rc, Is.EqualTo(0), $"{verb} {flag}: {stderr}");
            Assert.That(stderr, Is.Empty, $"{verb} {flag}");
            Assert.That(stdout, Does.StartWith($"usage: pio-fvlm {verb}"), $"{verb} {flag}");
            Assert.That(stdout, Does.Contain("-h, --help"), $"{verb} {flag}");
            foreach (var option in Verb(verb).Syntax.Options)
                Assert.That(stdout, Does.Match($@"(?m)^  --{Regex.Escape(option.Name)}[ ]"), $"{verb} {flag}: --{option.Name} missing from the help");
        }
    }

    [TestCaseSource(nameof(AllVerbs))]
    public void HelpVerbPrintsTheVerbsHelp(string verb)
    {
        var (rc, stdout, _) = CliRunner.Run("help", verb);
        Assert.That(rc, Is.EqualTo(0));
        Assert.That(stdout, Is.EqualTo(CliRunner.Run(verb, "--help").Stdout));
    }

    [TestCaseSource(nameof(AllVerbs))]
    public void UnknownOptionIsAUsageErrorNamingIt(string verb)
    {
        var (rc, stdout, stderr) = CliRunner.Run(verb, "--no-such-option");
        Assert.That(rc, Is.EqualTo(2), $"{verb}: {stdout}{stderr}");
        Assert.That(stderr, Does.Contain("--no-such-option"));
        Assert.That(stderr, Does.Contain($"pio-fvlm {verb} --help"));
    }

    [TestCaseSource(nameof(AllVerbs))]
    public void HelpListsExactlyTheOptionsTheParserAccepts(string verb)
    {
        var syntax = Verb(verb).Syntax;
        var listed = HelpOptions(CliRunner.Run(verb, "--help").Stdout);
        listed.Remove("help");
        if (syntax.ConfigOverrides) listed.Remove("Run:Section:Key=value");
        Assert.That(listed.Keys, Is.EquivalentTo(syntax.Options.Select(o => o.Name)), "options in the help vs the declared syntax");

        foreach (var (name, valued) in listed)
        {
            // Accepted with the arity the help shows (parsing stops at the trailing --help, before anything runs) ...
            string[] accepted = valued ? [verb, "--" + name, "1", "--help"] : [verb, "--" + name, "--help"];
            var (rc, _, stderr) = CliRunner.Run(accepted);
            Assert.That(rc, Is.EqualTo(0), $"{string.Join(' ', accepted)}: {stderr}");
            // ... and refused with the other one: a valued option without its value, a flag given a value.
            string[] refused = valued ? [verb, "--" + name] : [verb, $"--{name}=1"];
            (rc, _, stderr) = CliRunner.Run(refused);
            Assert.That(rc, Is.EqualTo(2), string.Join(' ', refused));
            Assert.That(stderr, Does.Contain("--" + name));
        }
    }

    [Test]
    public void TopLevelHelpListsEveryVisibleVerbAndNoHiddenOne()
    {
        foreach (var form in new[] { "--help", "-h", "help" })
        {
            var (rc, stdout, stderr) = CliRunner.Run(form);
            Assert.That(rc, Is.EqualTo(0), form);
            Assert.That(stderr, Is.Empty, form);
            Assert.That(stdout, Does.StartWith("usage: pio-fvlm"), form);
            foreach (var v in Cli.Verbs)
            {
                var row = $@"(?m)^  {Regex.Escape(v.Name)} +{Regex.Escape(v.Summary)}\r?$";
                if (v.Hidden) Assert.That(stdout, Does.Not.Match(row), $"{form}: hidden {v.Name} listed");
                else Assert.That(stdout, Does.Match(row), $"{form}: {v.Name} not listed with its summary");
            }
        }
        Assert.That(Cli.Verbs.Where(v => v.Hidden).Select(v => v.Name),
                    Is.EquivalentTo(new[] { "measure-llava-7b-prefill", "measure-prefill", "measure-layer-cost", "perf-report", "measure-attention-memory", "measure-window-attention" }));
    }

    [Test]
    public void NoArgumentsPrintsUsageOnStderrAndExitsTwo()
    {
        var (rc, stdout, stderr) = CliRunner.Run();
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(stdout, Is.Empty);
        Assert.That(stderr, Does.StartWith("usage: pio-fvlm"));
    }

    [TestCase("nope")]
    [TestCase("generate", "extra")]
    public void HelpForAnUnknownTopicExitsTwo(params string[] topic)
    {
        var (rc, _, stderr) = CliRunner.Run(["help", .. topic]);
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain(string.Join(' ', topic)));
    }

    [TestCase("generate", "--image", "x.png", "--prompt", "hi")]                  // missing required --model
    [TestCase("merge", "--out", "all.jsonl")]                                     // missing the answer files
    [TestCase("eval")]                                                            // missing CONFIG.json
    [TestCase("eval", "run.json", "--limit")]                                     // missing value
    [TestCase("inspect", "a.safetensors", "b.safetensors")]                       // extra argument
    [TestCase("score", "--benchmark", "gqa", "--answers", "a", "--annotations", "b", "stray")]
    [TestCase("measure-layer-cost", "--repeats", "many")]                         // malformed value
    [TestCase("measure-llava-7b-prefill", "--threads", "0")]                      // below the minimum
    [TestCase("io-throughput", "lots")]                                           // malformed positional
    [TestCase("bench", "--threads", "x")]
    [TestCase("bench", "--list", "sideways")]                                     // BenchmarkDotNet's own value check
    [TestCase("demo", "--count", "2")]
    public void MissingOrMalformedArgumentsExitTwo(params string[] args)
    {
        var (rc, _, stderr) = CliRunner.Run(args);
        Assert.That(rc, Is.EqualTo(2), stderr);
        Assert.That(stderr, Does.StartWith($"pio-fvlm {args[0]}: "));
    }

    [Test]
    public void EvalAndDemoStillTakeConfigOverrides()
    {
        // The overrides pass the syntax check and reach the command, which then fails on the missing config (exit 1,
        // not the usage error 2).
        using var dir = new TempDir();
        string config = dir.File("no-such-run.json");
        var (rc, _, stderr) = CliRunner.Run("eval", config, "--Run:Eval:Limit=3", "--Run:Model:Path", "x", "--limit", "2", "--shard", "1/2", "--output", dir.Path);
        Assert.That(rc, Is.EqualTo(1), stderr);
        Assert.That(stderr, Does.Contain("no-such-run.json"));

        (rc, _, stderr) = CliRunner.Run("demo", config, "--count", "8", "--Run:Eval:Limit=3", "--Run:Output:Directory", dir.Path);
        Assert.That(rc, Is.EqualTo(1), stderr);
        Assert.That(stderr, Does.Contain("no-such-run.json"));

        // Overrides are for those two verbs only.
        (rc, _, stderr) = CliRunner.Run("score", "--Run:Eval:Limit=3");
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("--Run:Eval:Limit=3"));
    }

    [Test]
    public void BenchPassesBenchmarkDotNetArgumentsThroughBesideItsOwn()
    {
        var (rc, stdout, stderr) = CliRunner.Run("bench", "--threads", "1", "--list", "flat", "--anyCategories", "nms");
        Assert.That(rc, Is.EqualTo(0), stderr);
        var listed = stdout.Split('\n', StringSplitOptions.TrimEntries).Where(l => l.StartsWith("PioFvlm.Bench.", StringComparison.Ordinal));
        Assert.That(listed, Is.EquivalentTo(new[]
        {
            "PioFvlm.Bench.Micro.NmsSelectionBenchmark.FeatureNmsSelect", "PioFvlm.Bench.Micro.NmsSelectionBenchmark.FullMatrixSelect",
        }));
    }

    [Test]
    public void BenchHelpIsOursAndNamesBenchmarkDotNetsArguments()
    {
        var (rc, stdout, _) = CliRunner.Run("bench", "--help");
        Assert.That(rc, Is.EqualTo(0));
        Assert.That(stdout, Does.Contain("[BenchmarkDotNet arguments]"));
        Assert.That(stdout, Does.Contain("--anyCategories"));
        Assert.That(stdout, Does.Contain("bench -- --help"));
        Assert.That(stdout, Does.Not.Contain("native peak RSS"), "no benchmark run started");
    }
}
