/*
 * A stand-in for libnvidia-ml.so.1 with the signatures and structure layouts of nvml.h, for
 * testing vramd's dlopen path on machines without an NVIDIA driver. One GPU, three compute
 * processes (one whose memory the driver "will not say"); the process list answers
 * NVML_ERROR_INSUFFICIENT_SIZE with the needed count when the caller's buffer is too small, as
 * the driver does.
 *
 * Built with -DFIRST_ABI it exports only the first, unversioned process-list entry point, whose
 * entries are 16 bytes (pid, used memory); with -DNO_UUID it lacks nvmlDeviceGetUUID, as a
 * library vramd cannot use would.
 */
#include <string.h>

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
#ifdef FIRST_ABI
typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
} nvmlProcessInfo_t;
#define PROCESS(pid, used) {pid, used}
#define PROCESS_LIST nvmlDeviceGetComputeRunningProcesses
#else
typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlProcessInfo_t;
#define PROCESS(pid, used) {pid, used, 0xFFFFFFFFu, 0xFFFFFFFFu}
#define PROCESS_LIST nvmlDeviceGetComputeRunningProcesses_v3
#endif

#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_INSUFFICIENT_SIZE 7

static int initialized;
static struct nvmlDevice_st { int index; } gpu0 = {0};
static const nvmlProcessInfo_t processes[] = {
    PROCESS(4242, 9663676416ULL),
    PROCESS(5150, 4697620480ULL),
    PROCESS(6001, 0xFFFFFFFFFFFFFFFFULL),
};

nvmlReturn_t nvmlInit_v2(void) { initialized = 1; return NVML_SUCCESS; }

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    *count = 1;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    if (index != 0) return NVML_ERROR_INVALID_ARGUMENT;
    *device = &gpu0;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
    if (device != &gpu0) return NVML_ERROR_INVALID_ARGUMENT;
    memory->total = 25757220864ULL;
    memory->free = 10369368064ULL;
    memory->used = 14921613312ULL;
    return NVML_SUCCESS;
}

static nvmlReturn_t copy(const char *text, char *buffer, unsigned int length) {
    if (strlen(text) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(buffer, text);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    return copy("NVIDIA GeForce RTX 4090", name, length);
}

#ifndef NO_UUID
nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
    return copy("GPU-5b3e9a4c-0d2f-4e1a-9c61-8f1b2a7d3e40", uuid, length);
}
#endif

nvmlReturn_t PROCESS_LIST(nvmlDevice_t device, unsigned int *count, nvmlProcessInfo_t *infos) {
    unsigned int needed = sizeof processes / sizeof processes[0];
    if (infos == NULL || *count < needed) {
        *count = needed;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    memcpy(infos, processes, sizeof processes);
    *count = needed;
    return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t result) {
    return result == NVML_ERROR_INSUFFICIENT_SIZE ? "Insufficient Size" : "Fake NVML error";
}
