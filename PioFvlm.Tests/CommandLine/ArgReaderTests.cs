using PioFvlm.Bench;
using PioFvlm.Bench.Commands;

namespace PioFvlm.Tests.CommandLine;

/// <summary><see cref="ArgReader"/> against a syntax declared here, independent of any verb.</summary>
public class ArgReaderTests
{
    static readonly CommandSyntax Plain = new("plain",
    [
        CliOption.Require("model", "DIR", "the model"),
        CliOption.Optional("count", "N", "how many"),
        CliOption.Flag("json", "json out"),
    ])
    {
        Arguments = [new("INPUT", "the input"), new("EXTRA", "more inputs", Required: false, Many: true)],
    };

    static readonly CommandSyntax WithOverrides = new("over", [CliOption.Optional("limit", "N", "limit")])
    {
        Arguments = [new("CONFIG", "the config")],
        ConfigOverrides = true,
    };

    static readonly CommandSyntax Forwarding = new("fwd", [CliOption.Optional("threads", "N", "threads")]) { Forwarded = "OTHER" };

    static string Error(CommandSyntax syntax, params string[] args) =>
        Assert.Throws<UsageException>(() => _ = new ArgReader(args, syntax))!.Message;

    [Test]
    public void ReadsValuesFlagsAndPositionalsInAnyOrder()
    {
        var a = new ArgReader(["in.txt", "--model=m", "--json", "--count", "-3", "-1", "b"], Plain);
        Assert.That(a.Value("model"), Is.EqualTo("m"));
        Assert.That(a.Value("count"), Is.EqualTo("-3"), "a negative number is a value, not an option");
        Assert.That(a.Flag("json"), Is.True);
        Assert.That(a.Positional, Is.EqualTo(new[] { "in.txt", "-1", "b" }));
        Assert.That(a.HelpRequested, Is.False);

        var b = new ArgReader(["in.txt", "--model", "m"], Plain);
        Assert.That(b.Flag("json"), Is.False);
        Assert.That(b.Value("count"), Is.Null);
    }

    [Test]
    public void DoubleDashMakesTheRestPositional()
    {
        var a = new ArgReader(["--model", "m", "--", "--json", "-h"], Plain);
        Assert.That(a.Positional, Is.EqualTo(new[] { "--json", "-h" }));
        Assert.That(a.Flag("json"), Is.False);
        Assert.That(a.HelpRequested, Is.False);
    }

    [Test]
    public void UsageErrorsNameWhatIsWrong()
    {
        Assert.That(Error(Plain, "in", "--model", "m", "--nope"), Does.Contain("unknown option '--nope'"));
        Assert.That(Error(Plain, "in", "--model", "m", "-x"), Does.Contain("unknown option '-x'"));
        Assert.That(Error(Plain, "in", "--model"), Does.Contain("--model needs a value"));
        Assert.That(Error(Plain, "in", "--model", "m", "--json=yes"), Does.Contain("--json takes no value"));
        Assert.That(Error(Plain, "in"), Does.Contain("--model is required"));
        Assert.That(Error(Plain, "--model", "m"), Does.Contain("missing INPUT"));
        Assert.That(Error(WithOverrides, "a.json", "b.json"), Does.Contain("unexpected argument 'b.json'"));
    }

    [Test]
    public void HelpWinsOverLaterProblemsButNotEarlierOnes()
    {
        Assert.That(new ArgReader(["--help"], Plain).HelpRequested, Is.True, "missing --model and INPUT do not matter");
        Assert.That(new ArgReader(["--count", "3", "-h", "--nope"], Plain).HelpRequested, Is.True);
        Assert.That(new ArgReader(["in", "--model", "-h"], Plain).HelpRequested, Is.False, "-h as the value of --model");
        Assert.That(Error(Plain, "--nope", "--help"), Does.Contain("--nope"));
    }

    [Test]
    public void ConfigOverridesOnlyWhereTheSyntaxTakesThem()
    {
        var a = new ArgReader(["run.json", "--Run:Eval:Limit=3", "--Run:Model:Path", "dir", "--limit", "2"], WithOverrides);
        Assert.That(a.Positional, Is.EqualTo(new[] { "run.json" }), "the value of a spaced override is not positional");
        Assert.That(a.Value("limit"), Is.EqualTo("2"));
        Assert.That(Error(WithOverrides, "run.json", "--Run:Model:Path"), Does.Contain("--Run:Model:Path needs a value"));
        Assert.That(Error(Plain, "in", "--model", "m", "--Run:Eval:Limit=3"), Does.Contain("unknown option '--Run:Eval:Limit=3'"));
    }

    [Test]
    public void ForwardingKeepsItsOwnOptionsAndPassesTheRestInOrder()
    {
        var a = new ArgReader(["--filter", "*Nms*", "--threads", "1", "-m", "--", "--help"], Forwarding);
        Assert.That(a.Value("threads"), Is.EqualTo("1"));
        Assert.That(a.Forwarded, Is.EqualTo(new[] { "--filter", "*Nms*", "-m", "--help" }));
        Assert.That(a.HelpRequested, Is.False, "--help after -- is forwarded");
        Assert.That(new ArgReader(["--filter", "x", "-h"], Forwarding).HelpRequested, Is.True);
    }

    [Test]
    public void ReadingAnUndeclaredOptionIsABug()
    {
        var a = new ArgReader(["in", "--model", "m"], Plain);
        Assert.Throws<InvalidOperationException>(() => a.Value("modle"));
        Assert.Throws<InvalidOperationException>(() => a.Flag("model"), "a valued option read as a flag");
        Assert.Throws<InvalidOperationException>(() => a.Value("json"), "a flag read as a value");
    }

    [Test]
    public void IntChecksFormatAndMinimum()
    {
        Assert.That(new ArgReader(["in", "--model", "m"], Plain).Int("count", 7, min: 1), Is.EqualTo(7));
        Assert.That(new ArgReader(["in", "--model", "m", "--count", "12"], Plain).Int("count", 7, min: 1), Is.EqualTo(12));
        Assert.That(Assert.Throws<UsageException>(() => new ArgReader(["in", "--model", "m", "--count", "0"], Plain).Int("count", 7, min: 1))!.Message,
                    Does.Contain("--count: '0'"));
        Assert.That(Assert.Throws<UsageException>(() => new ArgReader(["in", "--model", "m", "--count", "2.5"], Plain).Int("count", 7, min: 1))!.Message,
                    Does.Contain("--count: '2.5'"));
    }

    [Test]
    public void UsageLineShowsRequiredPartsBareAndOptionalOnesBracketed()
    {
        Assert.That(Plain.Usage, Is.EqualTo("pio-fvlm plain INPUT [EXTRA [EXTRA ...]] --model DIR [--count N] [--json]"));
        Assert.That(WithOverrides.Usage, Is.EqualTo("pio-fvlm over CONFIG [--limit N] [--Run:Section:Key=value ...]"));
        Assert.That(Forwarding.Usage, Is.EqualTo("pio-fvlm fwd [--threads N] [OTHER]"));
    }
}
