using PioFvlm.Bench.Commands;
using Spectre.Console;

namespace PioFvlm.Tests.CommandLine;

public class ProgressReporterTests
{
    [Test]
    public void Describe_DoneRateEtaAndScore_ByHand()
    {
        // 3 of 8 in 6 s: 0.5/s, 5 left -> 10 s
        Assert.That(ProgressReporter.Describe("eval", "KeepAll", 3, 8, TimeSpan.FromSeconds(6), 0.5),
            Is.EqualTo("eval KeepAll: 3/8 (38%, 0.50/s, ETA 0:00:10, running match 50.0%)"));
        Assert.That(ProgressReporter.Describe("verify", null, 8, 8, TimeSpan.FromSeconds(4), null),
            Is.EqualTo("verify: 8/8 (100%, 2.00/s)"));
    }

    [Test]
    public void Plain_FirstAndLastLines_WhenAWriterIsGiven()
    {
        var w = new StringWriter();
        using (var p = ProgressReporter.Start("eval", 4, w))
        {
            Assert.That(p, Is.InstanceOf<PlainProgress>());
            for (int i = 1; i <= 4; i++) p.Report(i, "FastV", i % 2 == 0 ? 1.0 : 0.0);
        }
        var lines = w.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(2), w.ToString());   // the first, then nothing for 5 s, then the last
        Assert.That(lines[0], Does.StartWith("eval FastV: 1/4 (25%, ").And.Contain("ETA").And.Contain("running match 0.0%"));
        Assert.That(lines[1], Does.StartWith("eval FastV: 4/4 (100%, ").And.Contain("running match 100.0%").And.Not.Contain("ETA"));
    }

    [Test]
    public void Terminal_DrawsABarWithTheSameText()
    {
        var w = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.Yes, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.Yes,
            Out = new AnsiConsoleOutput(w),
        });
        using (var p = new TerminalProgress("eval", 8, console))
        {
            p.Report(3, "KeepAll", 0.5);
            p.Report(8, "KeepAll", 0.75);
        }
        string text = w.ToString();
        Assert.That(text, Does.Contain("eval KeepAll: 8/8 (100%").And.Contain("running match 75.0%"));
        Assert.That(text, Does.Contain("100%"));
    }
}
