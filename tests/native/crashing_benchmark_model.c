/* A benchmark_model that dies the way a broken delegate makes the real one die: it starts
 * as the tool does, then takes a real SIGSEGV (a write through a null pointer), so the
 * device's shell reports "Segmentation fault" and exit status 139. Built by the tests with the
 * system C compiler; pushed to virtual phones like a user's binary. */
#include <stdio.h>

int main(int argc, char **argv) {
    volatile int *nowhere = NULL;
    printf("INFO: STARTING!\n");
    for (int i = 1; i < argc; i++) {
        printf("INFO: argv[%d]: %s\n", i, argv[i]);
    }
    printf("INFO: Loaded model\n");
    fflush(stdout);
    *nowhere = 1;
    return 0;
}
