#ifndef VRAMD_CSHIMS_H
#define VRAMD_CSHIMS_H

#include <spawn.h>

// C functions Swift cannot reach on its own: glibc's GNU extensions, which Swift's Glibc module
// does not declare (they sit behind _GNU_SOURCE), and NVML, whose library is opened at run time
// so vramd builds and runs where no driver is installed.

/// pipe2(fds, O_CLOEXEC): both ends close-on-exec from the start, with no window in which a
/// child spawned on another thread could inherit them.
int vramd_pipe_cloexec(int fds[2]);

/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34+).
int vramd_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int from);

/// An nvmlDevice_t.
typedef struct vramd_nvml_device_st *vramd_nvml_device;

/// The NVML entry points vramd calls, with nvml.h's signatures. Every one returns an
/// nvmlReturn_t. The structures (nvmlMemory_t, nvmlProcessInfo_t) are passed as raw memory and
/// decoded in Swift.
typedef struct {
    int (*initialize)(void);
    int (*device_count)(unsigned int *count);
    int (*handle_by_index)(unsigned int index, vramd_nvml_device *device);
    int (*memory_info)(vramd_nvml_device device, void *memory);
    int (*name)(vramd_nvml_device device, char *name, unsigned int length);
    int (*uuid)(vramd_nvml_device device, char *uuid, unsigned int length);
    int (*compute_processes)(vramd_nvml_device device, unsigned int *count, void *infos);
    /// NULL when the library has no nvmlErrorString.
    const char *(*error_string)(int code);
    /// The size of one nvmlProcessInfo_t for the compute_processes entry found: 24 bytes for
    /// the _v2 and _v3 entry points, 16 for the first.
    int process_info_stride;
} vramd_nvml_table;

/// Opens `library` and fills `table`.
///
/// Returns 0 when every required entry point was found; -1 when the library cannot be opened
/// (`*problem` is dlerror's text); -2 when an entry point is missing (`*problem` names it).
int vramd_nvml_open(const char *library, vramd_nvml_table *table, const char **problem);

#endif
