// The kernel scheduler mechanism (sched_mechanism.cpp): what the rest of the
// core calls. The ioctls and the probes' entry points are extern "C"
// (include/milk_core.h).
#pragma once

namespace milk::kernel::sched {

// The file `file` (a milk_core_open state) is being released: if it is an
// enclave's agent, the enclave falls back to the kernel's scheduling and
// its books go (what MILK_IOC_SCHED_STATS reports is kept).
void release_file(const void* file);

}  // namespace milk::kernel::sched
