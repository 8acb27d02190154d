// The sOS policies (components/policy), run by the module at load with the
// kernel's compiler and flags: the very objects the scheduler and the memory
// manager will drive in milk.ko.
#pragma once

#include <milk/result.hpp>

namespace milk::kernel {

// Replays page reference strings through every policy, checking the counts
// the textbooks give for FIFO (Belady's anomaly) and CLOCK, and that every
// policy keeps the rules over a longer string. Returns how many references
// were replayed; a failure refuses the module load.
[[nodiscard]] Result<int> run_policy_self_test();

}  // namespace milk::kernel
