/*
 * The generated kernel-side validators, compiled as C in user space and fed
 * crafted slots: a valid conversation is accepted and tracked, and each kind
 * of malformed message is rejected with its own code, naming what was wrong,
 * without moving the tracked state.
 *
 * The headers come from milkc at build time (tests/kstub/CMakeLists.txt):
 * kstub_test.contract and kstub_other.contract, included together.
 */
#include "kstub_test.kstub.h"
#include "kstub_other.kstub.h"

#include <stdio.h>
#include <string.h>

static int checks;
static int failures;

#define EXPECT(condition)                                                                  \
    do {                                                                                   \
        ++checks;                                                                          \
        if (!(condition)) {                                                                \
            ++failures;                                                                    \
            fprintf(stderr, "%s:%d: %s: expected %s\n", __FILE__, __LINE__, __func__, #condition); \
        }                                                                                  \
    } while (0)

#define EXPECT_STR(actual, expected) EXPECT((actual) != 0 && strcmp((actual), (expected)) == 0)

/* A ring slot as the runtime lays it out: 64 bytes, cache-line aligned. */
struct slot {
    _Alignas(64) unsigned char bytes[MILK_KSLOT_SIZE];
};

static void make_slot(struct slot *s, milk_ku16 tag, milk_ku16 length, milk_ku32 flags, const void *payload,
                      size_t size)
{
    memset(s->bytes, 0, sizeof s->bytes);
    memcpy(s->bytes + 0, &tag, sizeof tag);
    memcpy(s->bytes + 2, &length, sizeof length);
    memcpy(s->bytes + 4, &flags, sizeof flags);
    if (size > 0)
        memcpy(s->bytes + MILK_KSLOT_HEADER_SIZE, payload, size);
}

/* The client's pool, as the server sees it: heap offsets [0x1000, 0x11000). */
static const struct milk_kpool client_pool = {0x1000u, 0x10000u};

static struct kstub_test_Files__Open valid_open(void)
{
    struct kstub_test_Files__Open open;
    memset(&open, 0, sizeof open);
    open.id = 7;
    open.name.offset = 0x1000u;
    open.name.length = 16;
    open.mode = kstub_test_Mode_safe;
    return open;
}

static struct kstub_test_Files__Shape valid_shape(void)
{
    struct kstub_test_Files__Shape shape;
    memset(&shape, 0, sizeof shape);
    shape.cells[0].mode = kstub_test_Mode_fast;
    shape.cells[1].mode = kstub_test_Mode_safe;
    shape.cells[1].on[2] = 1;
    shape.cells[1].corners[1].visible = 1;
    shape.cells[1].corners[1].x = -3;
    shape.count = 2;
    return shape;
}

/* A server that has received Open and answered Opened: in Ready. */
static struct milk_kstate ready_server(void)
{
    struct milk_kstate st;
    struct slot s;
    struct kstub_test_Files msg;
    struct kstub_test_Files__Open open = valid_open();
    kstub_test_Files_init(&st, MILK_KSIDE_SERVER);
    make_slot(&s, kstub_test_Files_tag_Open, sizeof open, 0, &open, sizeof open);
    EXPECT(kstub_test_Files_validate(&st, s.bytes, &client_pool, &msg, 0) == 0);
    EXPECT(kstub_test_Files_on_send(&st, kstub_test_Files_tag_Opened) == 0);
    EXPECT(st.state == kstub_test_Files_state_Ready);
    return st;
}

static void test_valid_conversation_is_accepted_and_tracked(void)
{
    struct milk_kstate st;
    struct slot s;
    struct kstub_test_Files msg;
    struct milk_kviolation why;
    struct kstub_test_Files__Open open = valid_open();
    struct kstub_test_Files__Shape shape = valid_shape();

    kstub_test_Files_init(&st, MILK_KSIDE_SERVER);
    EXPECT(st.state == kstub_test_Files_state_Idle);

    make_slot(&s, kstub_test_Files_tag_Open, sizeof open, 0, &open, sizeof open);
    EXPECT(kstub_test_Files_validate(&st, s.bytes, &client_pool, &msg, &why) == MILK_KV_OK);
    EXPECT(why.code == MILK_KV_OK);
    EXPECT(st.state == kstub_test_Files_state_Opening);
    /* The decoded copy holds the message. */
    EXPECT(msg.tag == kstub_test_Files_tag_Open);
    EXPECT(msg.body.Open.id == 7);
    EXPECT(msg.body.Open.name.offset == 0x1000u && msg.body.Open.name.length == 16);
    EXPECT(msg.body.Open.mode == kstub_test_Mode_safe);
    /* It is a copy: the peer rewriting the slot afterwards changes nothing. */
    memset(s.bytes, 0xff, sizeof s.bytes);
    EXPECT(msg.body.Open.id == 7);

    /* The server's own reply moves the tracked state too. */
    EXPECT(kstub_test_Files_on_send(&st, kstub_test_Files_tag_Opened) == 0);
    EXPECT(st.state == kstub_test_Files_state_Ready);

    make_slot(&s, kstub_test_Files_tag_Shape, sizeof shape, 0, &shape, sizeof shape);
    EXPECT(kstub_test_Files_validate(&st, s.bytes, &client_pool, &msg, &why) == 0);
    EXPECT(st.state == kstub_test_Files_state_Ready);
    EXPECT(msg.body.Shape.cells[1].corners[1].x == -3);
    EXPECT(msg.body.Shape.count == 2);

    make_slot(&s, kstub_test_Files_tag_Close, 0, 0, 0, 0);
    EXPECT(kstub_test_Files_validate(&st, s.bytes, &client_pool, &msg, &why) == 0);
    EXPECT(st.state == kstub_test_Files_state_end);

    /* Nothing may follow `end`. */
    EXPECT(kstub_test_Files_validate(&st, s.bytes, &client_pool, &msg, &why) == MILK_KV_ENDED);
    EXPECT(why.code == MILK_KV_ENDED);
    EXPECT_STR(why.state_name, "end");
}

static void test_client_side_validates_server_messages(void)
{
    struct milk_kstate st;
    struct slot s;
    struct kstub_test_Files msg;
    struct milk_kviolation why;
    struct kstub_test_Files__Opened opened;
    struct kstub_test_Files__Failed failed;

    memset(&opened, 0, sizeof opened);
    opened.handle = 42;
    opened.wide = kstub_test_Wide_high; /* 4000000000: beyond int, still declared */
    memset(&failed, 0, sizeof failed);
    failed.code = 2;

    kstub_test_Files_init(&st, MILK_KSIDE_CLIENT);
    /* The client must send first; a server message now is out of turn. */
    make_slot(&s, kstub_test_Files_tag_Opened, sizeof opened, 0, &opened, sizeof opened);
    EXPECT(kstub_test_Files_validate(&st, s.bytes, 0, &msg, &why) == MILK_KV_TAG_NOT_ALLOWED);
    EXPECT(st.state == kstub_test_Files_state_Idle);

    EXPECT(kstub_test_Files_on_send(&st, kstub_test_Files_tag_Open) == 0);
    EXPECT(st.state == kstub_test_Files_state_Opening);
    EXPECT(kstub_test_Files_validate(&st, s.bytes, 0, &msg, &why) == 0);
    EXPECT(st.state == kstub_test_Files_state_Ready);
    EXPECT(msg.body.Opened.handle == 42);

    /* Failed was allowed in Opening, not in Ready. */
    make_slot(&s, kstub_test_Files_tag_Failed, sizeof failed, 0, &failed, sizeof failed);
    EXPECT(kstub_test_Files_validate(&st, s.bytes, 0, &msg, &why) == MILK_KV_TAG_NOT_ALLOWED);
    EXPECT_STR(why.message, "Failed");
    EXPECT_STR(why.state_name, "Ready");
    EXPECT(st.state == kstub_test_Files_state_Ready);
}

static void test_garbage_tags_are_rejected(void)
{
    static const milk_ku16 tags[] = {0, 7, 0x7fff, 0xffff};  /* the contract has tags 1-6 */
    struct kstub_test_Files msg;
    struct milk_kviolation why;
    struct slot s;
    size_t i;
    for (i = 0; i < sizeof tags / sizeof tags[0]; ++i) {
        struct milk_kstate st;
        kstub_test_Files_init(&st, MILK_KSIDE_SERVER);
        make_slot(&s, tags[i], 0, 0, 0, 0);
        EXPECT(kstub_test_Files_validate(&st, s.bytes, &client_pool, &msg, &why) == MILK_KV_BAD_TAG);
        EXPECT(why.code == MILK_KV_BAD_TAG);
        EXPECT(why.tag == tags[i]);
        EXPECT(why.message == 0);
        EXPECT_STR(why.contract, "kstub.test.Files");
        EXPECT(st.state == kstub_test_Files_state_Idle);
    }
}

static void test_messages_out_of_turn_are_rejected(void)
{
    struct milk_kstate st;
    struct slot s;
    struct kstub_test_Files msg;
    struct milk_kviolation why;
    struct kstub_test_Files__Shape shape = valid_shape();
    struct kstub_test_Files__Opened opened;
    memset(&opened, 0, sizeof opened);
    opened.wide = kstub_test_Wide_low;

    kstub_test_Files_init(&st, MILK_KSIDE_SERVER);
    /* Shape is a client message, but not one for Idle. */
    make_slot(&s, kstub_test_Files_tag_Shape, sizeof shape, 0, &shape, sizeof shape);
    EXPECT(kstub_test_Files_validate(&st, s.bytes, &client_pool, &msg, &why) == MILK_KV_TAG_NOT_ALLOWED);
    EXPECT_STR(why.message, "Shape");
    EXPECT_STR(why.state_name, "Idle");
    EXPECT(why.state == kstub_test_Files_state_Idle);
    /* Opened is the server's own message: the client may never send it. */
    make_slot(&s, kstub_test_Files_tag_Opened, sizeof opened, 0, &opened, sizeof opened);
    EXPECT(kstub_test_Files_validate(&st, s.bytes, &client_pool, &msg, &why) == MILK_KV_TAG_NOT_ALLOWED);
    EXPECT(st.state == kstub_test_Files_state_Idle);

    /* The local side's own mistakes are caught too, and keep the state. */
    EXPECT(kstub_test_Files_on_send(&st, kstub_test_Files_tag_Opened) == MILK_KV_TAG_NOT_ALLOWED);
    EXPECT(kstub_test_Files_on_send(&st, 0) == MILK_KV_TAG_NOT_ALLOWED);
    EXPECT(st.state == kstub_test_Files_state_Idle);
}

static void test_wrong_length_and_flags_are_rejected(void)
{
    static const milk_ku16 lengths[] = {0, 15, 17, 56, 0xffff};
    static const milk_ku32 flags[] = {1, 0x80000000u, 0xffffffffu};
    struct kstub_test_Files__Open open = valid_open();
    struct kstub_test_Files msg;
    struct milk_kviolation why;
    struct slot s;
    size_t i;
    for (i = 0; i < sizeof lengths / sizeof lengths[0]; ++i) {
        struct milk_kstate st;
        kstub_test_Files_init(&st, MILK_KSIDE_SERVER);
        make_slot(&s, kstub_test_Files_tag_Open, lengths[i], 0, &open, sizeof open);
        EXPECT(kstub_test_Files_validate(&st, s.bytes, &client_pool, &msg, &why) == MILK_KV_BAD_LENGTH);
        EXPECT(why.value == lengths[i]);
        EXPECT(st.state == kstub_test_Files_state_Idle);
    }
    for (i = 0; i < sizeof flags / sizeof flags[0]; ++i) {
        struct milk_kstate st;
        kstub_test_Files_init(&st, MILK_KSIDE_SERVER);
        make_slot(&s, kstub_test_Files_tag_Open, sizeof open, flags[i], &open, sizeof open);
        EXPECT(kstub_test_Files_validate(&st, s.bytes, &client_pool, &msg, &why) == MILK_KV_BAD_FLAGS);
        EXPECT(why.value == flags[i]);
        EXPECT(st.state == kstub_test_Files_state_Idle);
    }
    /* A message without payload must say 0. */
    {
        struct milk_kstate st;
        kstub_test_Files_init(&st, MILK_KSIDE_SERVER);
        make_slot(&s, kstub_test_Files_tag_Close, 1, 0, 0, 0);
        EXPECT(kstub_test_Files_validate(&st, s.bytes, &client_pool, &msg, &why) == MILK_KV_BAD_LENGTH);
    }
}

static void test_bad_bools_are_rejected_also_nested(void)
{
    struct kstub_test_Files msg;
    struct milk_kviolation why;
    struct slot s;
    struct milk_kstate st;
    struct kstub_test_Files__Shape shape;

    st = ready_server();
    shape = valid_shape();
    shape.cells[1].corners[0].visible = 2;
    make_slot(&s, kstub_test_Files_tag_Shape, sizeof shape, 0, &shape, sizeof shape);
    EXPECT(kstub_test_Files_validate(&st, s.bytes, &client_pool, &msg, &why) == MILK_KV_BAD_BOOL);
    EXPECT_STR(why.field, "cells[].corners[].visible");
    EXPECT(why.value == 2);
    EXPECT(st.state == kstub_test_Files_state_Ready);

    shape = valid_shape();
    shape.cells[0].on[2] = 0xff;
    make_slot(&s, kstub_test_Files_tag_Shape, sizeof shape, 0, &shape, sizeof shape);
    EXPECT(kstub_test_Files_validate(&st, s.bytes, &client_pool, &msg, &why) == MILK_KV_BAD_BOOL);
    EXPECT_STR(why.field, "cells[].on[]");
    EXPECT(why.value == 0xff);
}

/* A flags enum: any OR of its bits is a value, none included; a bit that is
 * no flag is refused like an undeclared enum value. */
static void test_flags_take_any_or_of_their_bits_and_nothing_else(void)
{
    static const milk_ku8 good[] = {0, 1, 2, 3, 128, 131};
    static const milk_ku8 bad[] = {4, 5, 64, 0xff};
    struct kstub_test_Files msg;
    struct milk_kviolation why;
    struct slot s;
    size_t i;
    for (i = 0; i < sizeof good / sizeof good[0]; ++i) {
        struct milk_kstate st = ready_server();
        struct kstub_test_Files__Grant grant;
        grant.perm = good[i];
        make_slot(&s, kstub_test_Files_tag_Grant, sizeof grant, 0, &grant, sizeof grant);
        EXPECT(kstub_test_Files_validate(&st, s.bytes, &client_pool, &msg, &why) == MILK_KV_OK);
        EXPECT(msg.body.Grant.perm == good[i]);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        struct milk_kstate st = ready_server();
        struct kstub_test_Files__Grant grant;
        grant.perm = bad[i];
        make_slot(&s, kstub_test_Files_tag_Grant, sizeof grant, 0, &grant, sizeof grant);
        EXPECT(kstub_test_Files_validate(&st, s.bytes, &client_pool, &msg, &why) == MILK_KV_BAD_ENUM);
        EXPECT_STR(why.field, "perm");
        EXPECT(why.value == bad[i]);
    }
    EXPECT(kstub_test_Perm__valid(kstub_test_Perm_read | kstub_test_Perm_admin));
    EXPECT(!kstub_test_Perm__valid(256));
}

static void test_undeclared_enum_values_are_rejected_also_nested(void)
{
    static const milk_ku8 modes[] = {0, 3, 0xff};
    struct kstub_test_Files msg;
    struct milk_kviolation why;
    struct slot s;
    size_t i;
    for (i = 0; i < sizeof modes / sizeof modes[0]; ++i) {
        struct milk_kstate st;
        struct kstub_test_Files__Open open = valid_open();
        open.mode = modes[i];
        kstub_test_Files_init(&st, MILK_KSIDE_SERVER);
        make_slot(&s, kstub_test_Files_tag_Open, sizeof open, 0, &open, sizeof open);
        EXPECT(kstub_test_Files_validate(&st, s.bytes, &client_pool, &msg, &why) == MILK_KV_BAD_ENUM);
        EXPECT_STR(why.field, "mode");
        EXPECT(why.value == modes[i]);
        EXPECT(st.state == kstub_test_Files_state_Idle);
    }
    {
        struct milk_kstate st = ready_server();
        struct kstub_test_Files__Shape shape = valid_shape();
        shape.cells[1].mode = 9;
        make_slot(&s, kstub_test_Files_tag_Shape, sizeof shape, 0, &shape, sizeof shape);
        EXPECT(kstub_test_Files_validate(&st, s.bytes, &client_pool, &msg, &why) == MILK_KV_BAD_ENUM);
        EXPECT_STR(why.field, "cells[].mode");
        EXPECT(why.value == 9);
    }
    {
        struct milk_kstate st;
        struct kstub_test_Files__Opened opened;
        memset(&opened, 0, sizeof opened);
        opened.wide = 4000000001u;
        kstub_test_Files_init(&st, MILK_KSIDE_CLIENT);
        EXPECT(kstub_test_Files_on_send(&st, kstub_test_Files_tag_Open) == 0);
        make_slot(&s, kstub_test_Files_tag_Opened, sizeof opened, 0, &opened, sizeof opened);
        EXPECT(kstub_test_Files_validate(&st, s.bytes, 0, &msg, &why) == MILK_KV_BAD_ENUM);
        EXPECT_STR(why.field, "wide");
        EXPECT(why.value == 4000000001u);
        EXPECT(st.state == kstub_test_Files_state_Opening);
    }
}

static int validate_handle(milk_ku32 offset, milk_ku32 length, const struct milk_kpool *pool,
                           struct milk_kviolation *why)
{
    struct milk_kstate st;
    struct slot s;
    struct kstub_test_Files msg;
    struct kstub_test_Files__Open open = valid_open();
    open.name.offset = offset;
    open.name.length = length;
    kstub_test_Files_init(&st, MILK_KSIDE_SERVER);
    make_slot(&s, kstub_test_Files_tag_Open, sizeof open, 0, &open, sizeof open);
    return kstub_test_Files_validate(&st, s.bytes, pool, &msg, why);
}

static void test_buffer_handles_must_lie_in_the_senders_pool(void)
{
    /* A pool that ends exactly at 2^32: the end of the offset space. */
    static const struct milk_kpool top_pool = {0xffff0000u, 0x10000u};
    struct milk_kviolation why;

    /* Inside, and exactly up to the end. */
    EXPECT(validate_handle(0x1000u, 1, &client_pool, &why) == 0);
    EXPECT(validate_handle(0x11000u - 16u, 16, &client_pool, &why) == 0);
    EXPECT(validate_handle(0x1000u, 0x10000u, &client_pool, &why) == 0);
    EXPECT(validate_handle(0xfffffff0u, 0x10u, &top_pool, &why) == 0);
    /* A zero-length buffer still names a block inside the pool. */
    EXPECT(validate_handle(0x1000u, 0, &client_pool, &why) == 0);
    /* There is no "empty" handle: {0, 0} lies outside this pool. */
    EXPECT(validate_handle(0, 0, &client_pool, &why) == MILK_KV_BAD_HANDLE);
    EXPECT(validate_handle(0, 0, 0, &why) == MILK_KV_BAD_HANDLE);

    /* Before the pool, past its end, longer than it. */
    EXPECT(validate_handle(0x0fffu, 1, &client_pool, &why) == MILK_KV_BAD_HANDLE);
    EXPECT(validate_handle(0x11000u - 1u, 2, &client_pool, &why) == MILK_KV_BAD_HANDLE);
    EXPECT(validate_handle(0x11000u, 0, &client_pool, &why) == MILK_KV_BAD_HANDLE); /* starts past the end */
    EXPECT(validate_handle(0x11000u, 1, &client_pool, &why) == MILK_KV_BAD_HANDLE);
    EXPECT(validate_handle(0x1000u, 0x10001u, &client_pool, &why) == MILK_KV_BAD_HANDLE);
    /* Offset + length wraps around 2^32 to 0x10: a naive 32-bit check
     * (offset >= base && offset + length <= base + size) would accept it. */
    EXPECT(validate_handle(0xfffffff0u, 0x20u, &client_pool, &why) == MILK_KV_BAD_HANDLE);
    EXPECT(why.value == ((milk_ku64)0xfffffff0u << 32 | 0x20u));
    EXPECT_STR(why.field, "name");
    EXPECT(validate_handle(0xfffffff0u, 0x20u, &top_pool, &why) == MILK_KV_BAD_HANDLE);
    EXPECT(validate_handle(0xffffffffu, 0xffffffffu, &top_pool, &why) == MILK_KV_BAD_HANDLE);
    /* No pool given: no handle is acceptable. */
    EXPECT(validate_handle(0x1000u, 1, 0, &why) == MILK_KV_BAD_HANDLE);
}

static void test_a_corrupt_tracker_is_reported_as_such(void)
{
    struct milk_kstate st;
    struct slot s;
    struct kstub_test_Files msg;
    struct milk_kviolation why;
    make_slot(&s, kstub_test_Files_tag_Close, 0, 0, 0, 0);

    kstub_test_Files_init(&st, MILK_KSIDE_SERVER);
    st.state = 99;
    EXPECT(kstub_test_Files_validate(&st, s.bytes, &client_pool, &msg, &why) == MILK_KV_BAD_STATE);
    EXPECT(why.state_name == 0);
    EXPECT(kstub_test_Files_on_send(&st, kstub_test_Files_tag_Opened) == MILK_KV_BAD_STATE);

    kstub_test_Files_init(&st, MILK_KSIDE_SERVER);
    st.side = 5;
    EXPECT(kstub_test_Files_validate(&st, s.bytes, &client_pool, &msg, &why) == MILK_KV_BAD_STATE);
    /* A null violation record is allowed. */
    EXPECT(kstub_test_Files_validate(&st, s.bytes, &client_pool, &msg, 0) == MILK_KV_BAD_STATE);
}

static void test_a_second_stub_header_works_alongside(void)
{
    struct milk_kstate st;
    struct slot s;
    struct kstub_other_Ticker msg;
    struct kstub_other_Ticker__Tick tick;
    tick.now = 0x0123456789abcdefull;

    kstub_other_Ticker_init(&st, MILK_KSIDE_CLIENT);
    make_slot(&s, kstub_other_Ticker_tag_Tick, sizeof tick, 0, &tick, sizeof tick);
    EXPECT(kstub_other_Ticker_validate(&st, s.bytes, 0, &msg, 0) == 0);
    EXPECT(msg.body.Tick.now == 0x0123456789abcdefull);
    EXPECT(st.state == kstub_other_Ticker_state_Running);
    make_slot(&s, kstub_other_Ticker_tag_Stop, 0, 0, 0, 0);
    EXPECT(kstub_other_Ticker_validate(&st, s.bytes, 0, &msg, 0) == 0);
    EXPECT(st.state == kstub_other_Ticker_state_end);

    /* The server never receives in this contract. */
    kstub_other_Ticker_init(&st, MILK_KSIDE_SERVER);
    EXPECT(kstub_other_Ticker_validate(&st, s.bytes, 0, &msg, 0) == MILK_KV_TAG_NOT_ALLOWED);
}

static void test_codes_have_distinct_names(void)
{
    int a;
    int b;
    for (a = MILK_KV_BAD_STATE; a <= MILK_KV_OK; ++a) {
        EXPECT(strcmp(milk_kcode_name(a), "unknown") != 0);
        for (b = a + 1; b <= MILK_KV_OK; ++b)
            EXPECT(strcmp(milk_kcode_name(a), milk_kcode_name(b)) != 0);
    }
    EXPECT_STR(milk_kcode_name(-100), "unknown");
}

int main(void)
{
    test_valid_conversation_is_accepted_and_tracked();
    test_client_side_validates_server_messages();
    test_garbage_tags_are_rejected();
    test_messages_out_of_turn_are_rejected();
    test_wrong_length_and_flags_are_rejected();
    test_bad_bools_are_rejected_also_nested();
    test_undeclared_enum_values_are_rejected_also_nested();
    test_flags_take_any_or_of_their_bits_and_nothing_else();
    test_buffer_handles_must_lie_in_the_senders_pool();
    test_a_corrupt_tracker_is_reported_as_such();
    test_a_second_stub_header_works_alongside();
    test_codes_have_distinct_names();
    printf("kstub validators: %d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
