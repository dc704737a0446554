"""The continuous extension of Verner's efficient 7(6) pair (the tableau `vern7`):
an interpolant of order 7 built from the step's stages 1 and 4..9, f at the new point
(stage 11, as the tableau's b row) and five more stages, evaluated only for steps that
hold save times (coefficients as in Verner's published interpolant, via
OrdinaryDiffEq.jl's tables).

y(t + theta dt) = y + dt * sum_i b_i(theta) k_i with each b_i a polynomial in theta
without a constant term; `prepare` collects it as y + sum_j theta^j P_j, so a save costs
seven vectors and a Horner evaluation.
"""

from __future__ import annotations

from typing import Any

from cubie_trace.core.step import Dense

C_EXTRA = (0.29, 0.125, 0.25, 0.53, 0.79)
# rows 12..16 of the extended tableau (their entries for stages 1..11, ..., 1..15)
A_EXTRA = (
    [
        0.0523222769159969, 0.0, 0.0, 0.22495861826705715, 0.017443709248776376,
        -0.007669379876829393, 0.03435896044073285, -0.0410209723009395,
        0.025651133005205617, 0.0, -0.0160443457],
    [
        0.053053341257859085, 0.0, 0.0, 0.12195301011401886, 0.017746840737602496,
        -0.0005928372667681495, 0.008381833970853752, -0.01293369259698612,
        0.009412056815253861, 0.0, -0.005353253107275676, -0.06666729992455811],
    [
        0.03887903257436304, 0.0, 0.0, -0.0024403203308301317, -0.0013928917214672623,
        -0.00047446291558680135, 0.00039207932413159514, -0.00040554733285128004,
        0.00019897093147716726, 0.0, -0.00010278198793179169, 0.03385661513870267,
        0.1814893063199928],
    [
        0.05723681204690013, 0.0, 0.0, 0.22265948066761182, 0.12344864200186899,
        0.04006332526666491, -0.05269894848581452, 0.04765971214244523,
        -0.02138895885042213, 0.0, 0.015193891064036402, 0.12060546716289655,
        -0.022779423016187374, 0.0],
    [
        0.051372038802756814, 0.0, 0.0, 0.5414214473439406, 0.350399806692184,
        0.14193112269692182, 0.10527377478429423, -0.031081847805874016,
        -0.007401883149519145, 0.0, -0.006377932504865363, -0.17325495908361865,
        -0.18228156777622026, 0.0, 0.0],
)
# per stage (1, 4..9, 11..16), the coefficients of theta, theta^2, ..., theta^7 in b_i(theta)
R = {
    1: [
        1.0, -8.413387198332767, 33.675508884490895, -70.80159089484886, 80.64695108301298,
        -47.19413969837522, 11.133813442539243],
    4: [
        0.0, 8.754921980674396, -88.4596828699771, 346.9017638429916, -629.2580030059837,
        529.6773755604193, -167.35886986514018],
    5: [
        0.0, 8.913387586637922, -90.06081846893218, 353.1807459217058, -640.6476819744374,
        539.2646279047156, -170.38809442991547],
    6: [
        0.0, 5.1733120298478, -52.271115900055385, 204.9853867374073, -371.8306118563603,
        312.9880934374529, -98.89290352172495],
    7: [
        0.0, 16.79537744079696, -169.70040000059728, 665.4937727009246, -1207.1638892336007,
        1016.1291515818546, -321.06001557237494],
    8: [
        0.0, -10.005997536098665, 101.1005433052275, -396.47391512378437, 719.1787707014183,
        -605.3681033918824, 191.27439892797935],
    9: [
        0.0, 2.764708833638599, -27.934602637390462, 109.54779186137893, -198.7128113064482,
        167.26633571640318, -52.85010499525706],
    11: [
        0.0, -2.1696320280163506, 22.016696037569876, -86.90152427798948,
        159.22388973861476, -135.9618306534588, 43.792401183280006],
    12: [
        0.0, -4.890070188793804, 22.75407737425176, -30.78034218537731, -2.797194317207249,
        31.369456637508403, -15.655927320381801],
    13: [
        0.0, 10.862170929551967, -50.542971417827104, 68.37148040407511, 6.213326521632409,
        -69.68006323194157, 34.776056794509195],
    14: [
        0.0, -11.37286691922923, 130.79058078246717, -488.65113677785604, 832.2148793276441,
        -664.7743368554426, 201.79288044241662],
    15: [
        0.0, -5.919778732715007, 63.27679965889219, -265.432682088738, 520.1009254140611,
        -467.412109533902, 155.3868452824017],
    16: [
        0.0, -10.492146197961823, 105.35538525188011, -409.43975011988937, 732.831448907654,
        -606.3044574733512, 188.0495196316683],
}
ORDER = 7


def _stage_sum(dt: Any, weights: dict[int, float], k: dict[int, Any]) -> Any:
    """dt * sum_i weights[i] k_i over the non-zero weights."""
    total = None
    for stage, w in weights.items():
        if w != 0.0:
            term = (w * dt) * k[stage]
            total = term if total is None else total + term
    return total


MAIN_STAGES = (1, 4, 5, 6, 7, 8, 9)  # the step's stages the extension reads


def _prepare(f: Any, t: Any, dt: Any, y: Any, y_new: Any, stages: tuple) -> tuple:
    k = dict(zip(MAIN_STAGES, stages))
    k[11] = f(t + dt, y_new)
    for stage, (c, row) in enumerate(zip(C_EXTRA, A_EXTRA), start=12):
        k[stage] = f(t + c * dt, y + _stage_sum(dt, dict(enumerate(row, start=1)), k))
    return tuple(_stage_sum(dt, {stage: r[j] for stage, r in R.items()}, k)
                 for j in range(ORDER))


def _interpolate(coeffs: tuple, y: Any, y_new: Any, dt: Any, theta: Any) -> Any:
    acc = None
    for p in reversed(coeffs):  # Horner: theta (P_1 + theta (P_2 + ... theta P_7))
        acc = p * theta if acc is None else (acc + p) * theta
    return y + acc


def vern7_dense(returning: Any) -> Dense:
    """Vern7's extension, over its step function returning the stages it reads."""
    return Dense(returning([i - 1 for i in MAIN_STAGES]), _interpolate, ORDER,
                 prepare=_prepare, n_prepared=ORDER)
