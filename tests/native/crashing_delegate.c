/* An external delegate that crashes the real benchmark_model the way a broken vendor
 * delegate does (the Edge TPU client's SIGSEGV in tests/data/benchmark_model_logs/25_*): the
 * tool loads it through TFLite's external-delegate plugin ABI
 * (tensorflow/lite/delegates/external/external_delegate_interface.h) and the delegate's
 * creation writes through a null pointer. Built by the tests with the system C compiler. */
#include <stddef.h>

void *tflite_plugin_create_delegate(char **keys, char **values, size_t num_options,
                                    void (*report_error)(const char *)) {
  volatile int *nowhere = NULL;
  (void)keys;
  (void)values;
  (void)num_options;
  (void)report_error;
  *nowhere = 1;
  return NULL;
}

void tflite_plugin_destroy_delegate(void *delegate) { (void)delegate; }
