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

/**
 * The controller settings of ENAS's micro (cell) search (Pham et al. 2018, `run_cifar10_micro_search.sh`):
 * the defaults of the policy-gradient strategies in the shared-weight mode, where the controller takes
 * many updates on cheap, noisy rewards. Children per update are not here: `sizedStrategyOptions`
 * fits them to the search (ENAS aggregates 10).
 * @example createStrategy('ppo', { ...ENAS_CONTROLLER, updateEvery: 10 })
 */
export const ENAS_CONTROLLER = Object.freeze({
  /** Adam step size (10× the NASNet controller's). */
  learningRate: 0.0035,
  /** Weight of the entropy bonus. */
  entropyWeight: 0.0001,
  /** Decay of the moving-average reward baseline. */
  baselineDecay: 0.99,
  /** The LSTM: 64 units, logits divided by a temperature of 5, then 1.1 · tanh. */
  controller: Object.freeze({ hiddenSize: 64, temperature: 5, tanhConstant: 1.1 }),
});
