namespace PioFvlm.Core.Pruning.PreLlm;

/// <summary>
/// A pre-LLM reducer whose budget is a <see cref="TokenBudget"/> ratio: for each image it resolves the budget on that
/// image's token count and runs a reducer made for that count (anyres and dynamic-resolution images differ in size,
/// so one absolute count cannot fit them all). The reducers are configuration only, so making one per image is cheap.
/// </summary>
public sealed class PerImageBudgetReducer : IPreLlmReducer
{
    readonly Func<int, IPreLlmReducer> _create;
    readonly IPreLlmReducer _probe;

    public TokenBudget Budget { get; }

    /// <param name="budget">Resolved per image.</param>
    /// <param name="create">Makes the reducer for an absolute count (its signals must not depend on the count).</param>
    /// <param name="probeCount">A count to build the reducer that answers <see cref="Signals"/>.</param>
    public PerImageBudgetReducer(TokenBudget budget, Func<int, IPreLlmReducer> create, int probeCount = 64)
    {
        Budget = budget;
        _create = create;
        _probe = create(probeCount);
    }

    public VisionSignalRequest Signals => _probe.Signals;

    public VisionSignalRequest SignalsFor(int encoderLayers) => _probe.SignalsFor(encoderLayers);

    public VisionSignalRequest SignalsFor(VisionTowerInfo tower) => _probe.SignalsFor(tower);

    public string MethodName => _probe.MethodName;

    public PreLlmReduction Reduce(VisionStageContext context) =>
        _create(Budget.Resolve(checked((int)context.TokenCount))).Reduce(context);
}
