/**
 * nasnet: neural architecture search (NASNet) for Node.js.
 *
 * Named exports only; importing has no side effects (the addon loads on first use).
 */
export { type BackendName, type BackendsReport, backends, formatBackends } from './backends.js';
export { addonCandidates, type Binding, loadBinding, type NativeInfo } from './binding.js';
export { AddonLoadError, BackendUnavailableError, DataError, NativeError, ValidationError } from './errors.js';
