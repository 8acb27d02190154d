// The validators' shared definitions (milk_kstate, milk_kpool, milk_kbytes,
// milk_kviolation, MILK_KV_*, the contract descriptor milk_kcontract) for
// core code that is not about one contract.
//
// milkc emits them, guarded by MILK_KSTUB_COMMON_ABI, at the top of every
// stub header, and alone as milk_kstub_common.h with the module's registry
// (milkc --emit kernel-registry), so that the core names no contract.
#pragma once

#include "milk_kstub_common.h"
