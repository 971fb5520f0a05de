#include "CGlobalExecutorHook.h"

extern void *swift_task_enqueueGlobal_hook;

void **vramd_swift_task_enqueueGlobal_hook_slot(void) {
    return &swift_task_enqueueGlobal_hook;
}
