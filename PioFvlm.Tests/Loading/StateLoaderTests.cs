using PioFvlm.Core.IO.Loading;
using PioFvlm.Core.IO.Safetensors;
using PioFvlm.Tests.TestSupport;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Loading;

public class StateLoaderTests
{
    /// <summary>state_dict keys: proj.weight [3,4], proj.bias [3], norm.weight [3], norm.bias [3], steps [2] (int64 buffer).</summary>
    sealed class TinyNet : nn.Module<Tensor, Tensor>
    {
        [ComponentName(Name = "proj")] readonly Linear _proj;
        [ComponentName(Name = "norm")] readonly LayerNorm _norm;
        [ComponentName(Name = "steps")] readonly Tensor _steps;

        public TinyNet() : base(nameof(TinyNet))
        {
            _proj = nn.Linear(4, 3);
            _norm = nn.LayerNorm(3);
            _steps = zeros(2, ScalarType.Int64);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => _norm.forward(_proj.forward(x));
    }

    TempDir _dir = null!;

    [SetUp]
    public void Create() => _dir = new TempDir();

    [TearDown]
    public void Remove() => _dir.Dispose();

    static Dictionary<string, Tensor> FullState() => new()
    {
        ["proj.weight"] = randn(3, 4),
        ["proj.bias"] = randn(3),
        ["norm.weight"] = randn(3),
        ["norm.bias"] = randn(3),
        ["steps"] = tensor(new long[] { 7, -9 }),
    };

    SafetensorsFile Checkpoint(IEnumerable<KeyValuePair<string, Tensor>> state)
    {
        string path = _dir.File($"{Guid.NewGuid():N}.safetensors");
        SafetensorsWriter.Write(path, state.Select(kv => (kv.Key, kv.Value)));
        return new SafetensorsFile(path);
    }

    [Test]
    public void MatchingCheckpointFillsEveryParameterAndBuffer()
    {
        using var scope = NewDisposeScope();
        using var net = new TinyNet();
        var state = FullState();
        using var source = Checkpoint(state);
        var report = StateLoader.Load(net, source);
        Assert.That(report.IsComplete, Is.True, report.Describe());
        Assert.That(report.Loaded, Is.EqualTo(5));
        var loaded = net.state_dict();
        foreach (var (key, expected) in state)
            TensorAssert.Equal(loaded[key], expected, key);
        Assert.That(net.parameters().All(p => p.requires_grad), Is.True, "loading keeps parameters trainable");
    }

    [Test]
    public void StrictFailureListsEveryMissingUnexpectedAndMismatchedKeyAndLoadsNothing()
    {
        using var scope = NewDisposeScope();
        using var net = new TinyNet();
        var before = net.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var state = FullState();
        state.Remove("proj.bias");
        state.Remove("norm.weight");
        state["proj.weight"] = randn(3, 5);
        state["norm.bias"] = randn(4);
        state["extra.one"] = randn(2);
        state["extra.two"] = randn(1);
        using var source = Checkpoint(state);

        var e = Assert.Throws<StateLoadException>(() => StateLoader.Load(net, source))!;
        Assert.That(e.Report.Missing, Is.EqualTo(new[] { "norm.weight", "proj.bias" }));
        Assert.That(e.Report.Unexpected, Is.EqualTo(new[] { "extra.one", "extra.two" }));
        Assert.That(e.Report.Mismatched.Select(m => (m.Key, m.Expected, m.Found)), Is.EqualTo(new[]
        {
            ("norm.bias", new long[] { 3 }, new long[] { 4 }),
            ("proj.weight", new long[] { 3, 4 }, new long[] { 3, 5 }),
        }));
        foreach (var phrase in new[] { "norm.weight", "proj.bias", "extra.one", "extra.two", source.Path,
                     "proj.weight (checkpoint 'proj.weight'): module expects [3, 4], checkpoint has [3, 5]",
                     "norm.bias (checkpoint 'norm.bias'): module expects [3], checkpoint has [4]" })
            Assert.That(e.Message, Does.Contain(phrase));
        foreach (var (key, value) in net.state_dict())
            TensorAssert.Equal(value, before[key], $"{key} untouched after a failed strict load");
    }

    [Test]
    public void NonStrictLoadsWhatMatchesAndReportsTheRest()
    {
        using var scope = NewDisposeScope();
        using var net = new TinyNet();
        var state = FullState();
        var expectedBias = state["proj.bias"];
        state.Remove("norm.weight");
        state["norm.bias"] = randn(4);
        state["extra"] = randn(2);
        using var source = Checkpoint(state);

        var report = StateLoader.Load(net, source, strict: false);
        Assert.That(report.Missing, Is.EqualTo(new[] { "norm.weight" }));
        Assert.That(report.Unexpected, Is.EqualTo(new[] { "extra" }));
        Assert.That(report.Mismatched.Single().Key, Is.EqualTo("norm.bias"));
        Assert.That(report.Loaded, Is.EqualTo(3));
        TensorAssert.Equal(net.state_dict()["proj.bias"], expectedBias, "proj.bias");
    }

    [Test]
    public void KeyMapRenamesAndIgnores()
    {
        using var scope = NewDisposeScope();
        using var net = new TinyNet();
        var state = FullState();
        // Checkpoint spelled the HuggingFace way: a "model." prefix, "layer_norm" for norm, a rotary buffer to skip.
        var checkpoint = new Dictionary<string, Tensor>
        {
            ["model.proj.weight"] = state["proj.weight"],
            ["model.proj.bias"] = state["proj.bias"],
            ["model.layer_norm.weight"] = state["norm.weight"],
            ["model.layer_norm.bias"] = state["norm.bias"],
            ["model.steps"] = state["steps"],
            ["model.rotary_emb.inv_freq"] = randn(8),
        };
        using var source = Checkpoint(checkpoint);
        var map = KeyMap.Identity
            .Rename(@"^model\.layer_norm\.(\w+)$", "norm.$1")
            .RenamePrefix("model.", "")
            .Ignore(@"\.inv_freq$");

        var report = StateLoader.Load(net, source, map);
        Assert.That(report.Ignored, Is.EqualTo(new[] { "model.rotary_emb.inv_freq" }));
        Assert.That(report.Loaded, Is.EqualTo(5));
        foreach (var (key, expected) in state)
            TensorAssert.Equal(net.state_dict()[key], expected, key);
    }

    [Test]
    public void KeyMapAppliesTheFirstMatchingRuleOnly()
    {
        var map = KeyMap.Identity.RenamePrefix("a.", "b.").RenamePrefix("b.", "c.").Rename(@"x(\d)", "y$1");
        Assert.That(map.Map("a.w"), Is.EqualTo("b.w"));
        Assert.That(map.Map("b.w"), Is.EqualTo("c.w"));
        Assert.That(map.Map("q.x7"), Is.EqualTo("q.y7"));
        Assert.That(map.Map("untouched"), Is.EqualTo("untouched"));
        Assert.That(KeyMap.Identity.Map("a.w"), Is.EqualTo("a.w"), "builder calls return new maps");
    }

    [Test]
    public void UnexpectedKeysShowTheirRenamedForm()
    {
        using var scope = NewDisposeScope();
        using var net = new TinyNet();
        var state = FullState();
        state["model.lost"] = randn(1);
        using var source = Checkpoint(state);
        var e = Assert.Throws<StateLoadException>(() => StateLoader.Load(net, source, KeyMap.Identity.RenamePrefix("model.", "")))!;
        Assert.That(e.Report.Unexpected, Is.EqualTo(new[] { "model.lost (renamed to 'lost')" }));
    }

    [Test]
    public void TwoCheckpointKeysOnOneModuleKeyAreACollision()
    {
        using var scope = NewDisposeScope();
        using var net = new TinyNet();
        var state = FullState();
        state["legacy.proj.bias"] = randn(3);
        using var source = Checkpoint(state);
        var e = Assert.Throws<StateLoadException>(() => StateLoader.Load(net, source, KeyMap.Identity.RenamePrefix("legacy.", "")))!;
        Assert.That(e.Report.Collisions.Single(), Does.Contain("proj.bias").And.Contain("legacy.proj.bias"));
    }

    [Test]
    public void DTypeOnLoadConvertsFloatingPointStateOnly()
    {
        using var scope = NewDisposeScope();
        using var net = new TinyNet();
        var state = FullState();
        using var source = Checkpoint(state);
        StateLoader.Load(net, source, dtype: ScalarType.BFloat16);
        var loaded = net.state_dict();
        Assert.That(loaded["proj.weight"].dtype, Is.EqualTo(ScalarType.BFloat16));
        Assert.That(loaded["steps"].dtype, Is.EqualTo(ScalarType.Int64));
        foreach (var key in new[] { "proj.weight", "proj.bias", "norm.weight", "norm.bias" })
            TensorAssert.Equal(loaded[key], state[key].to(ScalarType.BFloat16), key);
        TensorAssert.Equal(loaded["steps"], state["steps"], "steps");
    }

    [Test]
    public void CheckpointInAnotherDTypeIsConvertedToTheModules()
    {
        using var scope = NewDisposeScope();
        using var net = new TinyNet();
        var state = FullState();
        var half = state.ToDictionary(kv => kv.Key, kv => kv.Value.is_floating_point() ? kv.Value.to(ScalarType.Float16) : kv.Value);
        using var source = Checkpoint(half);
        StateLoader.Load(net, source);
        var loaded = net.state_dict();
        Assert.That(loaded["proj.weight"].dtype, Is.EqualTo(ScalarType.Float32));
        TensorAssert.Equal(loaded["proj.weight"], half["proj.weight"].to(ScalarType.Float32), "F16 checkpoint into F32 module");
    }
}
