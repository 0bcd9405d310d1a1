/**
 * The NASNet controller's training settings (Zoph et al. 2018, section 4), written once: the
 * defaults of the policy-gradient strategies, of `Adam` and of `EmaBaseline` come from here.
 */

/**
 * The paper's controller settings.
 * @example new Adam(n, { learningRate: NASNET_CONTROLLER.learningRate })
 */
export const NASNET_CONTROLLER = Object.freeze({
  /** Adam step size. */
  learningRate: 0.00035,
  /** Weight of the entropy bonus. */
  entropyWeight: 0.00001,
  /** Decay of the exponential moving-average reward baseline. */
  baselineDecay: 0.95,
  /** Children per controller update. */
  updateEvery: 20,
});
