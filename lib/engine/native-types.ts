/**
 * Types of the engine functions the addon exports (native/napi_engine.cc). Filled in as the
 * engine's binding lands; lib/binding.ts merges them into the Binding interface.
 */
// biome-ignore lint/suspicious/noEmptyInterface: extended when the engine binding lands
export interface NativeEngine {}
