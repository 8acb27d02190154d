/* libFuzzer target: the kernel stubs' validator (docs/kernel-stubs.md),
 * compiled in user space. In milk.ko it reads slots that an untrusted process
 * wrote into shared memory, so nothing a peer can put there may make it read
 * out of bounds, trust a bad value, or move the tracked state on a rejection.
 *
 * Input: byte 0 picks the tracked state (including `end` and out-of-range
 * values), byte 1 the side, bytes 2..17 the sender's pool (base, size), the
 * rest up to 64 bytes the slot. The contract is tests/kstub/kstub_test.contract:
 * nested bools, enums of two widths, a `bytes` field. */
#include "kstub_test.kstub.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The validator's promise, as checks: what it accepts is a message of the
 * contract whose every handle lies inside the pool. */
static void check_handle(struct milk_kbytes handle, const struct milk_kpool *pool)
{
	uint64_t offset = handle.offset;
	uint64_t length = handle.length;
	if (offset == 0 && length == 0)
		return;
	if (pool == NULL)
		abort();
	if (offset < pool->base || offset - pool->base > pool->size || length > pool->size - (offset - pool->base))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 18)
		return -1;
	struct milk_kstate state;
	kstub_test_Files_init(&state, (data[1] & 1) ? MILK_KSIDE_SERVER : MILK_KSIDE_CLIENT);
	/* Mostly real states (0..3, 3 = end), sometimes a corrupt tracker. */
	state.state = data[0] < 240 ? (milk_ku32)(data[0] % 4) : data[0];
	if (data[1] & 0x80)
		state.side = data[1];

	struct milk_kpool pool;
	memcpy(&pool.base, data + 2, 8);
	memcpy(&pool.size, data + 10, 8);
	int use_pool = (data[1] & 2) != 0;

	/* The slot as a ring holds it: 64-byte aligned, the rest zero. */
	_Alignas(64) unsigned char slot[MILK_KSLOT_SIZE];
	memset(slot, 0, sizeof slot);
	size_t slot_bytes = size - 18 < sizeof slot ? size - 18 : sizeof slot;
	memcpy(slot, data + 18, slot_bytes);

	struct milk_kstate before = state;
	struct kstub_test_Files message;
	struct milk_kviolation why;
	memset(&why, 0, sizeof why);
	int rc = kstub_test_Files_validate(&state, slot, use_pool ? &pool : NULL, &message, &why);
	if (rc < 0) {
		/* A rejection leaves the tracker alone and says why. */
		if (memcmp(&before, &state, sizeof state) != 0 || why.code != rc || milk_kcode_name(rc) == NULL)
			abort();
		return 0;
	}
	if (rc != 0 || message.tag == 0 || message.tag > kstub_test_Files__tag_count)
		abort();
	if (message.length != kstub_test_Files_payload_size(message.tag))
		abort();
	if (message.tag == kstub_test_Files_tag_Open) {
		check_handle(message.body.Open.name, use_pool ? &pool : NULL);
		if (!kstub_test_Mode__valid(message.body.Open.mode))
			abort();
	}
	/* The tracker moved along the protocol's own transition function. */
	milk_ku32 next = 0;
	if (kstub_test_Files_step(before.state, before.side == MILK_KSIDE_CLIENT ? MILK_KSIDE_SERVER : MILK_KSIDE_CLIENT,
				  message.tag, &next) != 1 ||
	    next != state.state)
		abort();
	/* And the tracker can follow this side's own sends from there. */
	if (size > 82)
		(void)kstub_test_Files_on_send(&state, data[82]);
	return 0;
}
