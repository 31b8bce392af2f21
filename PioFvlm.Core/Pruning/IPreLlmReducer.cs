namespace PioFvlm.Core.Pruning;

/// <summary>
/// The pre-LLM insertion point: called once per image after the vision tower and projector, before the image's
/// features are spliced into the text. Text-agnostic (the prompt is never shown). The model owns the call site: it
/// runs the tower once, computing exactly the signals <see cref="Signals"/> asks for (CLS attention rows, keys, hidden
/// states) beside its fused attention, and hands them over through <see cref="VisionStageContext.Signals"/>.
/// Runs under the caller's <c>no_grad</c>.
/// </summary>
public interface IPreLlmReducer
{
    /// <summary>The vision-side signals <see cref="Reduce"/> will read; anything else is not computed.</summary>
    VisionSignalRequest Signals { get; }

    /// <summary>The signals for an encoder of <paramref name="encoderLayers"/> layers; the model asks this one. Override
    /// where the layers a method reads depend on the encoder's depth (HiPrune's object layer); default <see cref="Signals"/>.</summary>
    VisionSignalRequest SignalsFor(int encoderLayers) => Signals;

    /// <summary>The signals for <paramref name="tower"/>; the model asks this one. Override where a method reads other
    /// signals on a CLS-free tower (VScan's Qwen2.5-VL rule); default <see cref="SignalsFor(int)"/> with its depth.</summary>
    VisionSignalRequest SignalsFor(VisionTowerInfo tower) => SignalsFor(tower.Layers);

    /// <summary>The method's name in messages (a wrapper such as <see cref="PreLlm.PerImageBudgetReducer"/> names what it wraps).</summary>
    string MethodName => GetType().Name;

    /// <summary>
    /// Reduces one image's projected features. The returned tensors must be new (or views the caller may keep);
    /// the caller disposes the context's tensors after the call. Must not modify the context's tensors in place.
    /// </summary>
    PreLlmReduction Reduce(VisionStageContext context);
}
