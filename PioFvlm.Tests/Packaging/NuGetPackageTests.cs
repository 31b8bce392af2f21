using System.IO.Compression;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Models;
using PioFvlm.Core.Vision;
using PioFvlm.Models;
using PioFvlm.Tests.Models;
using PioFvlm.Tests.Pruning;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Packaging;

/// <summary>
/// The NuGet packages as an app sees them: <c>dotnet pack</c> of PioFvlm.Core and PioFvlm.Models into a local folder,
/// their metadata, then a throw-away console app (outside the repository, so none of its build files apply) that
/// references the two packages from that folder plus the CPU libtorch and answers one question about an image with
/// the bundled tiny model through <c>IChatClient</c>. Its answer must equal the in-process generate loop's.
/// </summary>
[NonParallelizable, Category("Packaging")]
public class NuGetPackageTests
{
    static readonly TimeSpan Minutes5 = TimeSpan.FromMinutes(5);
    const string Question = "What is in the picture?";

    [Test]
    public void PackedLibraries_ServeAConsoleAppThroughIChatClient()
    {
        string root = FastVTests.RepoRoot();
        using var dir = new TempDir();
        string feed = Directory.CreateDirectory(dir.File("feed")).FullName;
        string configuration = TestContext.CurrentContext.TestDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}") ? "Debug" : "Release";
        foreach (var project in new[] { "PioFvlm.Core", "PioFvlm.Models" })
        {
            // --no-build: the libraries this test assembly was built against are the ones packed (no rebuild under a running test)
            var pack = ProcessRun.Run("dotnet", ["pack", Path.Combine(root, project, project + ".csproj"), "-c", configuration, "--no-build", "-o", feed, "--nologo"], root, Minutes5);
            Assert.That(pack.ExitCode, Is.EqualTo(0), pack.Describe($"dotnet pack {project}"));
        }
        var core = Single(feed, "PioFvlm.Core");
        var models = Single(feed, "PioFvlm.Models");
        string version = Regex.Match(Path.GetFileName(core), @"^PioFvlm\.Core\.(.+)\.nupkg$").Groups[1].Value;
        TestContext.Out.WriteLine($"package sizes: {Path.GetFileName(core)} {new FileInfo(core).Length} bytes, {Path.GetFileName(models)} {new FileInfo(models).Length} bytes");

        CheckMetadata(core, "PioFvlm.Core", "PioFvlm.Core.dll");
        CheckMetadata(models, "PioFvlm.Models", "PioFvlm.Models.dll");
        Assert.That(Dependencies(models), Does.Contain("PioFvlm.Core"));

        // the consumer
        string app = Directory.CreateDirectory(dir.File("app")).FullName;
        string packages = dir.File("packages");
        string globalPackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config><add key="globalPackagesFolder" value="{packages}" /></config>
              <packageSources><add key="local" value="{feed}" /></packageSources>
              <fallbackPackageFolders><add key="cache" value="{globalPackages}" /></fallbackPackageFolders>
            </configuration>
            """);
        string rid = OperatingSystem.IsWindows() ? "win-x64" : OperatingSystem.IsMacOS() ? "osx-arm64" : "linux-x64";
        File.WriteAllText(Path.Combine(app, "ChatApp.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="PioFvlm.Models" Version="{version}" />
                <PackageReference Include="libtorch-cpu-{rid}" Version="2.10.0" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using Microsoft.Extensions.AI;
            using PioFvlm.Core.Chat;
            using PioFvlm.Models;

            using var model = VlmLoader.FromPretrained(args[0]);
            IChatClient chat = new VlmChatClient(model);
            var image = new DataContent(File.ReadAllBytes(args[1]), "image/png");
            var response = await chat.GetResponseAsync([new ChatMessage(ChatRole.User, [image, new TextContent(args[2])])],
                                                       new ChatOptions { MaxOutputTokens = 6 });
            Console.WriteLine("ANSWER=" + response.Text);
            Console.WriteLine("OUTPUT_TOKENS=" + response.Usage?.OutputTokenCount);
            """);
        var build = ProcessRun.Run("dotnet", ["build", app, "-c", "Release", "--nologo"], app, Minutes5);
        Assert.That(build.ExitCode, Is.EqualTo(0), build.Describe("dotnet build (consumer app)"));
        Assert.That(Directory.Exists(Path.Combine(packages, "piofvlm.core", version)), Is.True,
            "PioFvlm.Core must come from the packed folder, not from a cache");

        string tinyModel = Path.Combine(root, "configs", "models", "tiny-llava");
        string png = LlavaTestModels.WritePng(dir.File("img.png"));
        string dll = Directory.GetFiles(Path.Combine(app, "bin", "Release"), "ChatApp.dll", SearchOption.AllDirectories).Single();
        var run = ProcessRun.Run("dotnet", [dll, tinyModel, png, Question], app, Minutes5);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Describe("the consumer app"));
        string answer = Regex.Match(run.Stdout, "^ANSWER=(.*)$", RegexOptions.Multiline).Groups[1].Value.TrimEnd('\r');

        using var model = VlmLoader.FromPretrained(tinyModel);
        using var inputs = model.Prepare(model.FormatPrompt(Question), [ImageDecoder.Decode(png)], 6);
        var expected = model.Generate(inputs, new GenerationOptions { MaxNewTokens = 6 });
        Assert.That(answer, Is.Not.Empty, run.Stdout);
        Assert.That(answer, Is.EqualTo(expected.Text));
        Assert.That(run.Stdout, Does.Contain($"OUTPUT_TOKENS={expected.TokenIds.Count}"));
    }

    static string Single(string feed, string id)
    {
        var files = Directory.GetFiles(feed, id + ".*.nupkg");
        Assert.That(files, Has.Length.EqualTo(1), $"one {id} package in {feed}");
        return files[0];
    }

    static XElement Nuspec(string nupkg, out List<string> entries)
    {
        using var zip = ZipFile.OpenRead(nupkg);
        entries = zip.Entries.Select(e => e.FullName).ToList();
        var nuspec = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        using var s = nuspec.Open();
        return XElement.Load(s);
    }

    static List<string> Dependencies(string nupkg) =>
        Nuspec(nupkg, out _).Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => (string)e.Attribute("id")!).ToList();

    static void CheckMetadata(string nupkg, string id, string dll)
    {
        var spec = Nuspec(nupkg, out var entries);
        string? Field(string name) => spec.Descendants().FirstOrDefault(e => e.Name.LocalName == name)?.Value;
        Assert.That(Field("id"), Is.EqualTo(id));
        Assert.That(Field("description"), Is.Not.Null.And.Length.GreaterThan(40), $"{id}: description");
        var license = spec.Descendants().Single(e => e.Name.LocalName == "license");
        Assert.That((string?)license.Attribute("type"), Is.EqualTo("expression"), $"{id}: license expression");
        Assert.That(Field("readme"), Is.EqualTo("README.md"));
        Assert.That(entries, Does.Contain("README.md"));
        var repository = spec.Descendants().Single(e => e.Name.LocalName == "repository");
        Assert.That((string?)repository.Attribute("type"), Is.EqualTo("git"), $"{id}: repository metadata");
        Assert.That(entries, Does.Contain($"lib/net10.0/{dll}"));
        Assert.That(entries, Does.Contain($"lib/net10.0/{Path.ChangeExtension(dll, ".xml")}"), $"{id}: XML docs");
        var deps = Dependencies(nupkg);
        Assert.That(deps, Does.Contain("TorchSharp"), $"{id}: references the managed TorchSharp");
        Assert.That(deps.Where(d => d.StartsWith("libtorch", StringComparison.OrdinalIgnoreCase) || d.StartsWith("TorchSharp-cuda", StringComparison.OrdinalIgnoreCase)),
            Is.Empty, $"{id}: must not pick a libtorch backend for the app");
    }
}
