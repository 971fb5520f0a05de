#ifndef C_GLOBAL_EXECUTOR_HOOK_H
#define C_GLOBAL_EXECUTOR_HOOK_H

/// The address of the Swift runtime's `swift_task_enqueueGlobal_hook`, resolved by the linker.
///
/// SwiftNIO finds this variable with `dlsym`, which fails in a binary built with
/// `--static-swift-stdlib`: the runtime's symbols are not exported there. Naming it at link
/// time works for static and dynamic builds alike.
void *_Nullable *_Nonnull vramd_swift_task_enqueueGlobal_hook_slot(void);

#endif
