// Trunk's post_build hook (Trunk.toml). Trunk runs a stage's hooks at the same time, so
// the two steps are one hook, in order: the app cut into its pages' chunks, then the
// compressed copies of every file, chunks included.
import './split.mjs';
import './precompress.mjs';
