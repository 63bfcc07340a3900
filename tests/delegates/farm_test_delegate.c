/*
 * farm_test_delegate: a tiny TensorFlow Lite delegate for the farm's tests.
 *
 * It is loaded through the external delegate plugin ABI
 * (tensorflow/lite/delegates/external/external_delegate_interface.h), the same way
 * `ai_edge_litert.interpreter.load_delegate()` and benchmark_model's
 * `--external_delegate_path` load a vendor's delegate. It claims float32 nodes of one
 * builtin op and computes them itself, so coverage (which nodes became delegate nodes)
 * and parity (are the outputs right) can be tested with a delegate that really runs.
 *
 * Options (all strings, as the plugin ABI passes them):
 *   op         required; the builtin op to claim. Supported: ADD (float32, equal input
 *              shapes, no broadcasting, fused activation NONE). Nodes that do not meet
 *              the conditions stay on the CPU.
 *   mode       "exact" (default): a + b. The others run fine but write wrong outputs,
 *              each the way a broken kernel does, for parity to catch with the right
 *              class: "corrupt" a + b + 1; "nan" a NaN in the first element; "zeros";
 *              "constant" (every element 0.5); "scale" (a + b) x 1.05; "shift" a + b plus
 *              3 x 1e-3 x its RMS (3 x the calibrated float tolerance); "permute" the
 *              elements in reverse order.
 *   max_nodes  claim at most this many nodes (default: no limit).
 * An unknown key, op or mode, or a bad max_nodes, makes creation fail with a message
 * naming it (load_delegate raises ValueError with that message): a typo in devices.yaml
 * must not quietly turn into "claimed nothing".
 *
 * No TensorFlow headers are needed: the structs below mirror the C ABI of
 * tensorflow/lite/core/c/common.h and c_api_types.h as of TensorFlow 2.16-2.20, which
 * LiteRT 2.3 still uses (identical in google-ai-edge/LiteRT tflite/core/c/common.h).
 * Upstream only ever appends fields ("semi-ABI stable"), so what matters is the order
 * and type of every field up to the last one this file touches, and the full size of
 * the structs the runtime copies by value or indexes as arrays.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Mirrors of the TFLite C ABI ------------------------------------------------- */

/* c_api_types.h: TfLiteStatus. Enums are int-sized in the C ABI. */
typedef enum TfLiteStatus {
  kTfLiteOk = 0,
  kTfLiteError = 1,
  kTfLiteDelegateError = 2,
} TfLiteStatus;

/* c_api_types.h: TfLiteType; only the value we check is named. */
typedef enum TfLiteType {
  kTfLiteNoType = 0,
  kTfLiteFloat32 = 1,
} TfLiteType;

/* schema / builtin_ops.h: builtin operator codes. */
enum {
  kTfLiteBuiltinAdd = 0,
  /* The code of a delegate node; with custom_name it is how the runtime names it. */
  kTfLiteBuiltinDelegate = 51,
};

/* common.h: kTfLiteDelegateFlagsNone (TfLiteDelegate.flags is an int64_t bitmask). */
enum { kTfLiteDelegateFlagsNone = 0 };

/* builtin_op_data.h: TfLiteFusedActivation; kTfLiteActNone is 0. */
enum { kTfLiteActNone = 0 };

/* common.h: TfLiteIntArray, a size and a flexible array of ints (dims, node lists). */
typedef struct TfLiteIntArray {
  int size;
  int data[];
} TfLiteIntArray;

/* c_api_types.h: TfLiteQuantizationParams, embedded by value in TfLiteTensor. */
typedef struct TfLiteQuantizationParams {
  float scale;
  int32_t zero_point;
} TfLiteQuantizationParams;

/* common.h: TfLiteQuantization, embedded by value in TfLiteTensor. */
typedef struct TfLiteQuantization {
  int type;     /* TfLiteQuantizationType */
  void* params;
} TfLiteQuantization;

/* common.h: TfLitePtrUnion, a union of data pointers; one pointer wide. */
typedef union TfLitePtrUnion {
  float* f;
  void* data;
} TfLitePtrUnion;

/*
 * common.h: TfLiteTensor (the non-TF_LITE_STATIC_MEMORY layout). Declared in full:
 * context->tensors is an array of these, so the size sets the stride of tensors[i].
 */
typedef struct TfLiteTensor {
  TfLiteType type;                    /* read: we only claim float32 */
  TfLitePtrUnion data;                /* read/written: the values */
  TfLiteIntArray* dims;               /* read: shapes must match, element count */
  TfLiteQuantizationParams params;
  int allocation_type;                /* TfLiteAllocationType */
  size_t bytes;
  const void* allocation;
  const char* name;
  struct TfLiteDelegate* delegate;
  int buffer_handle;                  /* TfLiteBufferHandle */
  bool data_is_stale;
  bool is_variable;
  TfLiteQuantization quantization;
  void* sparsity;                     /* TfLiteSparsity* */
  const TfLiteIntArray* dims_signature;
} TfLiteTensor;

/* common.h: TfLiteNode. Only read through pointers the runtime owns. */
typedef struct TfLiteNode {
  TfLiteIntArray* inputs;             /* read: tensor indices of the operands */
  TfLiteIntArray* outputs;            /* read: tensor index of the result */
  TfLiteIntArray* intermediates;
  TfLiteIntArray* temporaries;
  void* user_data;                    /* read: our Partition, returned by kernel_init */
  void* builtin_data;                 /* read: TfLiteAddParams* of an ADD node */
  const void* custom_initial_data;
  int custom_initial_data_size;
  struct TfLiteDelegate* delegate;
  bool might_have_side_effect;
} TfLiteNode;

struct TfLiteRegistration;
struct TfLiteDelegate;

/*
 * common.h: TfLiteContext, owned by the runtime and only read through its pointer, so
 * the prefix up to the last member we call is enough; upstream continues with
 * recommended_num_threads, GetExternalContext, ..., GetTensor, AcquireSubgraphContext.
 */
typedef struct TfLiteContext {
  size_t tensors_size;
  TfLiteStatus (*GetExecutionPlan)(struct TfLiteContext* context,
                                   TfLiteIntArray** execution_plan);
  TfLiteTensor* tensors;              /* read: tensors[i].data.f in kernel_invoke */
  void* impl_;
  TfLiteStatus (*ResizeTensor)(struct TfLiteContext*, TfLiteTensor* tensor,
                               TfLiteIntArray* new_size);
  void (*ReportError)(struct TfLiteContext*, const char* msg, ...);
  TfLiteStatus (*AddTensors)(struct TfLiteContext*, int tensors_to_add,
                             int* first_new_tensor_index);
  TfLiteStatus (*GetNodeAndRegistration)(struct TfLiteContext*, int node_index,
                                         TfLiteNode** node,
                                         struct TfLiteRegistration** registration);
  /* Takes the registration BY VALUE: see the note on TfLiteRegistration. */
  TfLiteStatus (*ReplaceNodeSubsetsWithDelegateKernels)(
      struct TfLiteContext*, struct TfLiteRegistration registration,
      const TfLiteIntArray* nodes_to_replace, struct TfLiteDelegate* delegate);
} TfLiteContext;

/*
 * common.h: TfLiteRegistration, declared in full (88 bytes on LP64 in TF 2.16-2.20).
 * ReplaceNodeSubsetsWithDelegateKernels receives it by value, so the runtime reads
 * sizeof(its TfLiteRegistration) bytes from our copy: a shorter mirror would hand it
 * stack garbage as, e.g., inplace_operator. Older runtimes read a prefix of it
 * (upstream keeps those layouts as TfLiteRegistration_V1: up to version, _V2:
 * +registration_external, _V3: +async_kernel), so the full layout is safe for them too.
 */
typedef struct TfLiteRegistration {
  void* (*init)(TfLiteContext* context, const char* buffer, size_t length);
  void (*free)(TfLiteContext* context, void* buffer);
  TfLiteStatus (*prepare)(TfLiteContext* context, TfLiteNode* node);
  TfLiteStatus (*invoke)(TfLiteContext* context, TfLiteNode* node);
  const char* (*profiling_string)(const TfLiteContext* context, const TfLiteNode* node);
  int32_t builtin_code;               /* read in Prepare: which op a node is */
  const char* custom_name;
  int version;
  void* registration_external;        /* TfLiteOperator*; must stay NULL */
  void* (*async_kernel)(TfLiteContext* context, TfLiteNode* node);  /* NULL: sync only */
  uint64_t inplace_operator;          /* TfLiteInPlaceOp bitmask; 0 = kTfLiteInplaceOpNone */
} TfLiteRegistration;

/*
 * common.h: TfLiteDelegate, declared in full: we allocate it and the runtime reads
 * every field (a non-NULL opaque_delegate_builder would take precedence over Prepare).
 */
typedef struct TfLiteDelegate {
  void* data_;                        /* our FarmDelegateOptions */
  TfLiteStatus (*Prepare)(TfLiteContext* context, struct TfLiteDelegate* delegate);
  TfLiteStatus (*CopyFromBufferHandle)(TfLiteContext* context,
                                       struct TfLiteDelegate* delegate,
                                       int buffer_handle, TfLiteTensor* tensor);
  TfLiteStatus (*CopyToBufferHandle)(TfLiteContext* context,
                                     struct TfLiteDelegate* delegate,
                                     int buffer_handle, TfLiteTensor* tensor);
  void (*FreeBufferHandle)(TfLiteContext* context, struct TfLiteDelegate* delegate,
                           int* handle);
  int64_t flags;                      /* TfLiteDelegateFlags */
  void* opaque_delegate_builder;      /* TfLiteOpaqueDelegateBuilder*; must stay NULL */
} TfLiteDelegate;

/* common.h: TfLiteDelegateParams, the `buffer` a delegate kernel's init receives. */
typedef struct TfLiteDelegateParams {
  TfLiteDelegate* delegate;
  TfLiteIntArray* nodes_to_replace;   /* read: the original nodes of this partition */
  TfLiteIntArray* input_tensors;
  TfLiteIntArray* output_tensors;
} TfLiteDelegateParams;

/* builtin_op_data.h: TfLiteAddParams, an ADD node's builtin_data. */
typedef struct TfLiteAddParams {
  int activation;                     /* TfLiteFusedActivation */
  bool pot_scale_int16;
} TfLiteAddParams;

/* The layouts above are for LP64 (Linux/Android/macOS, 64-bit); check the sizes that
 * the runtime depends on against upstream's. */
#if UINTPTR_MAX == 0xffffffffffffffffu
_Static_assert(sizeof(TfLiteTensor) == 112, "TfLiteTensor must match common.h");
_Static_assert(sizeof(TfLiteNode) == 80, "TfLiteNode must match common.h");
_Static_assert(sizeof(TfLiteRegistration) == 88, "TfLiteRegistration must match common.h");
_Static_assert(sizeof(TfLiteDelegate) == 56, "TfLiteDelegate must match common.h");
_Static_assert(offsetof(TfLiteContext, ReplaceNodeSubsetsWithDelegateKernels) == 64,
               "TfLiteContext prefix must match common.h");
#endif

/* ---- The delegate ---------------------------------------------------------------- */

static const char kDelegateName[] = "FarmTestDelegate";

/* How the kernels write their outputs: right, or wrong in one of the ways parity
 * must catch (the "mode" option; kModeNames in the same order). */
typedef enum Mode {
  kModeExact,
  kModeCorrupt,
  kModeNaN,
  kModeZeros,
  kModeConstant,
  kModeScale,
  kModeShift,
  kModePermute,
  kModeCount
} Mode;

static const char* const kModeNames[kModeCount] = {
    "exact", "corrupt", "nan", "zeros", "constant", "scale", "shift", "permute"};

/* What the options asked for; lives in TfLiteDelegate.data_. */
typedef struct FarmDelegateOptions {
  int32_t builtin_code;  /* the op to claim */
  Mode mode;
  long max_nodes;        /* -1: no limit */
} FarmDelegateOptions;

/* One claimed ADD node: the tensor indices kernel_invoke reads and writes. */
typedef struct ClaimedAdd {
  int input_a;
  int input_b;
  int output;
} ClaimedAdd;

/* One delegate node (a partition of claimed nodes), built by kernel_init. */
typedef struct Partition {
  Mode mode;
  int count;
  ClaimedAdd adds[];  /* in execution order, as nodes_to_replace lists them */
} Partition;

static size_t element_count(const TfLiteIntArray* dims) {
  size_t count = 1;
  for (int i = 0; i < dims->size; ++i) count *= (size_t)dims->data[i];
  return count;
}

static bool same_dims(const TfLiteIntArray* a, const TfLiteIntArray* b) {
  if (a == NULL || b == NULL || a->size != b->size) return false;
  for (int i = 0; i < a->size; ++i) {
    if (a->data[i] != b->data[i]) return false;
  }
  return true;
}

/* Whether this delegate can compute `node`: the conditions of the op's reference
 * kernel that our simple loop covers; anything else stays on the CPU. */
static bool can_claim(const TfLiteContext* context, const TfLiteNode* node,
                      const TfLiteRegistration* registration,
                      const FarmDelegateOptions* options) {
  if (registration->builtin_code != options->builtin_code) return false;
  if (node->inputs->size != 2 || node->outputs->size != 1) return false;
  const int indices[3] = {node->inputs->data[0], node->inputs->data[1],
                          node->outputs->data[0]};
  for (int i = 0; i < 3; ++i) {
    if (indices[i] < 0 || (size_t)indices[i] >= context->tensors_size) return false;
    if (context->tensors[indices[i]].type != kTfLiteFloat32) return false;
  }
  const TfLiteTensor* a = &context->tensors[indices[0]];
  const TfLiteTensor* b = &context->tensors[indices[1]];
  const TfLiteTensor* out = &context->tensors[indices[2]];
  if (!same_dims(a->dims, b->dims) || !same_dims(a->dims, out->dims)) return false;
  const TfLiteAddParams* params = (const TfLiteAddParams*)node->builtin_data;
  return params != NULL && params->activation == kTfLiteActNone;
}

/* Kernel init: `buffer` is the TfLiteDelegateParams of one partition; remember the
 * tensors of each node in it. Returns the node's user_data (NULL fails prepare). */
static void* kernel_init(TfLiteContext* context, const char* buffer, size_t length) {
  (void)length;
  const TfLiteDelegateParams* params = (const TfLiteDelegateParams*)buffer;
  const FarmDelegateOptions* options = (const FarmDelegateOptions*)params->delegate->data_;
  const int count = params->nodes_to_replace->size;
  Partition* partition = malloc(sizeof(Partition) + (size_t)count * sizeof(ClaimedAdd));
  if (partition == NULL) return NULL;
  partition->mode = options->mode;
  partition->count = count;
  for (int i = 0; i < count; ++i) {
    TfLiteNode* node = NULL;
    TfLiteRegistration* registration = NULL;
    if (context->GetNodeAndRegistration(context, params->nodes_to_replace->data[i], &node,
                                        &registration) != kTfLiteOk) {
      free(partition);
      return NULL;
    }
    partition->adds[i].input_a = node->inputs->data[0];
    partition->adds[i].input_b = node->inputs->data[1];
    partition->adds[i].output = node->outputs->data[0];
  }
  return partition;
}

static void kernel_free(TfLiteContext* context, void* buffer) {
  (void)context;
  free(buffer);
}

/* Kernel prepare: shapes were checked when the nodes were claimed; the output tensors
 * keep the shapes the model gave them (this delegate never resizes). */
static TfLiteStatus kernel_prepare(TfLiteContext* context, TfLiteNode* node) {
  if (node->user_data == NULL) {
    context->ReportError(context, "%s: kernel init failed", kDelegateName);
    return kTfLiteError;
  }
  return kTfLiteOk;
}

static float root_mean_square(const float* values, size_t count) {
  double sum = 0.0;
  for (size_t i = 0; i < count; ++i) sum += (double)values[i] * values[i];
  return count ? (float)sqrt(sum / (double)count) : 0.0f;
}

/* Make a right output wrong the way `mode` says (exact and corrupt: nothing more). */
static void spoil(Mode mode, float* out, size_t count) {
  const float shift = 3e-3f * root_mean_square(out, count);
  for (size_t j = 0; j < count; ++j) {
    if (mode == kModeZeros) out[j] = 0.0f;
    if (mode == kModeConstant) out[j] = 0.5f;
    if (mode == kModeScale) out[j] *= 1.05f;
    if (mode == kModeShift) out[j] += shift;
  }
  for (size_t j = 0; mode == kModePermute && j < count / 2; ++j) {
    const float first = out[j];
    out[j] = out[count - 1 - j];
    out[count - 1 - j] = first;
  }
  if (mode == kModeNaN && count > 0) out[0] = NAN;
}

/* Kernel invoke: compute each claimed node in order (a later one may read an earlier
 * one's output). */
static TfLiteStatus kernel_invoke(TfLiteContext* context, TfLiteNode* node) {
  const Partition* partition = (const Partition*)node->user_data;
  const float bias = partition->mode == kModeCorrupt ? 1.0f : 0.0f;
  for (int i = 0; i < partition->count; ++i) {
    const ClaimedAdd* add = &partition->adds[i];
    const float* a = context->tensors[add->input_a].data.f;
    const float* b = context->tensors[add->input_b].data.f;
    TfLiteTensor* out = &context->tensors[add->output];
    if (a == NULL || b == NULL || out->data.f == NULL) {
      context->ReportError(context, "%s: tensor without data", kDelegateName);
      return kTfLiteError;
    }
    const size_t count = element_count(out->dims);
    for (size_t j = 0; j < count; ++j) out->data.f[j] = a[j] + b[j] + bias;
    spoil(partition->mode, out->data.f, count);
  }
  return kTfLiteOk;
}

/* TfLiteDelegate.Prepare: walk the execution plan, claim what can_claim accepts (up to
 * max_nodes), and let the runtime replace those nodes with delegate kernels. */
static TfLiteStatus delegate_prepare(TfLiteContext* context, TfLiteDelegate* delegate) {
  const FarmDelegateOptions* options = (const FarmDelegateOptions*)delegate->data_;
  TfLiteIntArray* plan = NULL;
  if (context->GetExecutionPlan(context, &plan) != kTfLiteOk) return kTfLiteError;

  /* Our own copy: the plan array is invalidated by later context calls, and
   * ReplaceNodeSubsetsWithDelegateKernels does not take ownership of its list. */
  TfLiteIntArray* claimed = malloc(sizeof(TfLiteIntArray) + (size_t)plan->size * sizeof(int));
  if (claimed == NULL) return kTfLiteError;
  claimed->size = 0;
  for (int i = 0; i < plan->size; ++i) {
    if (options->max_nodes >= 0 && claimed->size >= options->max_nodes) break;
    TfLiteNode* node = NULL;
    TfLiteRegistration* registration = NULL;
    if (context->GetNodeAndRegistration(context, plan->data[i], &node, &registration) !=
        kTfLiteOk) {
      free(claimed);
      return kTfLiteError;
    }
    if (can_claim(context, node, registration, options)) {
      claimed->data[claimed->size++] = plan->data[i];
    }
  }

  /* Zero everything we do not set: the runtime reads registration_external,
   * async_kernel and inplace_operator too, and non-zero garbage there is fatal. */
  TfLiteRegistration kernel;
  memset(&kernel, 0, sizeof kernel);
  kernel.init = kernel_init;
  kernel.free = kernel_free;
  kernel.prepare = kernel_prepare;
  kernel.invoke = kernel_invoke;
  kernel.builtin_code = kTfLiteBuiltinDelegate;
  kernel.custom_name = kDelegateName;
  kernel.version = 1;

  const TfLiteStatus status =
      context->ReplaceNodeSubsetsWithDelegateKernels(context, kernel, claimed, delegate);
  free(claimed);
  return status;
}

/* ---- Options and the plugin ABI -------------------------------------------------- */

typedef void (*ReportErrorFn)(const char*);

static void report(ReportErrorFn report_error, const char* message) {
  if (report_error != NULL) report_error(message);
}

/* Sets *code for a supported op name; false for anything else. */
static bool builtin_code_of(const char* op, int32_t* code) {
  if (strcmp(op, "ADD") == 0) {
    *code = kTfLiteBuiltinAdd;
    return true;
  }
  return false;
}

static bool mode_of(const char* name, Mode* mode) {
  for (int i = 0; i < kModeCount; ++i) {
    if (strcmp(name, kModeNames[i]) == 0) {
      *mode = (Mode)i;
      return true;
    }
  }
  return false;
}

static bool parse_option(FarmDelegateOptions* options, bool* has_op, const char* key,
                         const char* value, char* error, size_t error_size) {
  if (strcmp(key, "op") == 0) {
    if (!builtin_code_of(value, &options->builtin_code)) {
      snprintf(error, error_size, "%s: unknown op '%s' (supported: ADD)", kDelegateName,
               value);
      return false;
    }
    *has_op = true;
  } else if (strcmp(key, "mode") == 0) {
    if (!mode_of(value, &options->mode)) {
      snprintf(error, error_size,
               "%s: unknown mode '%s' (expected exact, corrupt, nan, zeros, constant, "
               "scale, shift or permute)",
               kDelegateName, value);
      return false;
    }
  } else if (strcmp(key, "max_nodes") == 0) {
    char* end = NULL;
    options->max_nodes = strtol(value, &end, 10);
    if (*value == '\0' || *end != '\0' || options->max_nodes < 0) {
      snprintf(error, error_size, "%s: max_nodes must be an integer >= 0, not '%s'",
               kDelegateName, value);
      return false;
    }
  } else {
    snprintf(error, error_size, "%s: unknown option '%s' (expected op, mode, max_nodes)",
             kDelegateName, key);
    return false;
  }
  return true;
}

/*
 * external_delegate_interface.h. num_options is size_t there; Python's load_delegate
 * declares it c_int, which libffi widens to a full register, so both callers agree.
 * Returns NULL, after report_error, when the options are invalid.
 */
TfLiteDelegate* tflite_plugin_create_delegate(char** option_keys, char** option_values,
                                              size_t num_options,
                                              void (*report_error)(const char*)) {
  FarmDelegateOptions parsed = {.builtin_code = -1, .mode = kModeExact, .max_nodes = -1};
  bool has_op = false;
  char error[256];
  for (size_t i = 0; i < num_options; ++i) {
    if (!parse_option(&parsed, &has_op, option_keys[i], option_values[i], error,
                      sizeof error)) {
      report(report_error, error);
      return NULL;
    }
  }
  if (!has_op) {
    report(report_error, "FarmTestDelegate: option 'op' is required (supported: ADD)");
    return NULL;
  }

  TfLiteDelegate* delegate = calloc(1, sizeof(TfLiteDelegate));
  FarmDelegateOptions* options = malloc(sizeof(FarmDelegateOptions));
  if (delegate == NULL || options == NULL) {
    free(delegate);
    free(options);
    report(report_error, "FarmTestDelegate: out of memory");
    return NULL;
  }
  *options = parsed;
  delegate->data_ = options;
  delegate->Prepare = delegate_prepare;
  /* No buffer handles: the kernels work on the CPU tensors in place. */
  delegate->flags = kTfLiteDelegateFlagsNone;
  return delegate;
}

/* Python's Delegate.__del__ calls this even when creation returned NULL. */
void tflite_plugin_destroy_delegate(TfLiteDelegate* delegate) {
  if (delegate == NULL) return;
  free(delegate->data_);
  free(delegate);
}
