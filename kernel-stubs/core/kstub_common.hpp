// The validators' shared definitions (milk_kstate, milk_kpool, milk_kbytes,
// milk_kviolation, MILK_KV_*) for core code that is not about one contract.
//
// milkc emits them, guarded by MILK_KSTUB_COMMON_ABI, at the top of every
// stub header; any one header brings them. The echo component's header is
// always generated (kernel-stubs/CMakeLists.txt), so that is the one used.
#pragma once

#include "pingpong.kstub.h"
