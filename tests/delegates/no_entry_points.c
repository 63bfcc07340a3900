/*
 * A valid shared library that is NOT a TFLite delegate plugin: it lacks
 * tflite_plugin_create_delegate and tflite_plugin_destroy_delegate. Loading it as an
 * external delegate must fail with a clear reason, not crash the process.
 */

/* One exported symbol, so the library is not empty and dlopen has something to map. */
int farm_no_entry_points_marker(void) { return 42; }
