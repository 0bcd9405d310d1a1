// Prints the native sources that binding.gyp compiles, from the one list in native/sources.json
// (the list CMakeLists.txt reads too). Usage: node scripts/gyp-sources.cjs core addon cpu_fallback
const sources = require('../native/sources.json');
const keys = process.argv.slice(2);
const files = keys.flatMap((key) => {
  if (!Array.isArray(sources[key])) throw new Error(`native/sources.json has no list "${key}"`);
  return sources[key];
});
process.stdout.write(files.join(' '));
