#define _GNU_SOURCE
#include "CShims.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int vramd_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int vramd_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

// The first of `names` (NULL-terminated) the library exports. Newer drivers export versioned
// names; the unversioned ones are the oldest ABI. POSIX makes dlsym's result callable through a
// function pointer of the right type.
static void *first_symbol(void *handle, const char *const *names, const char **found) {
    for (; *names; names++) {
        void *symbol = dlsym(handle, *names);
        if (symbol) {
            if (found) *found = *names;
            return symbol;
        }
    }
    return NULL;
}

#define REQUIRE(field, description, ...)                                             \
    do {                                                                             \
        static const char *const names[] = {__VA_ARGS__, NULL};                      \
        *(void **)(&table->field) = first_symbol(handle, names, &found);             \
        if (!table->field) {                                                         \
            *problem = description;                                                  \
            return -2;                                                               \
        }                                                                            \
    } while (0)

int vramd_nvml_open(const char *library, vramd_nvml_table *table, const char **problem) {
    void *handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        *problem = dlerror();
        return -1;
    }
    const char *found = NULL;
    REQUIRE(initialize, "nvmlInit_v2 or nvmlInit", "nvmlInit_v2", "nvmlInit");
    REQUIRE(device_count, "nvmlDeviceGetCount_v2 or nvmlDeviceGetCount", "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
    REQUIRE(handle_by_index, "nvmlDeviceGetHandleByIndex_v2 or nvmlDeviceGetHandleByIndex",
            "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
    REQUIRE(memory_info, "nvmlDeviceGetMemoryInfo", "nvmlDeviceGetMemoryInfo");
    REQUIRE(name, "nvmlDeviceGetName", "nvmlDeviceGetName");
    REQUIRE(uuid, "nvmlDeviceGetUUID", "nvmlDeviceGetUUID");
    REQUIRE(compute_processes,
            "nvmlDeviceGetComputeRunningProcesses_v3 or nvmlDeviceGetComputeRunningProcesses_v2 or "
            "nvmlDeviceGetComputeRunningProcesses",
            "nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetComputeRunningProcesses_v2",
            "nvmlDeviceGetComputeRunningProcesses");
    table->process_info_stride = strcmp(found, "nvmlDeviceGetComputeRunningProcesses") == 0 ? 16 : 24;
    *(void **)(&table->error_string) = dlsym(handle, "nvmlErrorString");
    return 0;
}
