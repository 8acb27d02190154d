// The contract-driven hostile peer (issue 14 §3): a client of any contract,
// driven only by its kernel-stub descriptor (milk_kcontract: the protocol's
// step function, the validator, and the field table of every message), that
// interleaves honest traffic with hostile messages and checks after each one
// that the honest side did exactly what the contract and the ownership rules
// say: answered correctly, ignored the message, or closed the channel with
// the right reason.
//
// The same driver runs against milk.ko in the VM (tests/vm/programs/
// contract_peer_test.cpp) and against the process transport in user space
// (tests/process/contract_peer_test.cpp); a Link adapts it to each.
//
// The oracle. The driver keeps its own model of the channel: the protocol
// state (the descriptor's step), which regions of our pool the honest side
// holds now, and which of its blocks it lent us. Before it sends a message it
// asks the model what the honest side must do with it: the contract's own
// validator (the generated C, run here on a copy of the server's state) gives
// the protocol verdict, and the model's ledger the ownership verdict (a
// region held twice, a block of the server's it never lent or took back, a
// hand-back longer than the block). Every reply is validated as the client
// would, and every buffer that comes back must be one the model says the
// server had. A disagreement is a failure, whichever side it points at.
//
// Include the contracts' stub headers (*.kstub.h) before this one.
#pragma once

#ifndef MILK_KSTUB_COMMON_ABI
#error "include the contracts' *.kstub.h headers before contract_peer.hpp"
#endif

#include <milk/result.hpp>
#include <milk/slot.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace milk::hostile {

// What the honest side did about the channel, as the link sees it.
struct HonestClose {
    bool closed = false;
    ErrorCode reason = ErrorCode::PeerClosed;
    // The validator's MILK_KV_* code where the link can read it (milk.ko's
    // MILK_IOC_CHANNEL_ERROR), else nullopt.
    std::optional<int> kstub_code;
    std::string text;
};

// A Link is one channel, client end, on raw memory (the driver writes the
// bytes itself):
//   std::uint32_t pool_bytes() const;    each pool's size
//   std::uint32_t own_pool_begin() const;  where our pool starts in the heap
//                                        (0 or pool_bytes); the honest
//                                        side's is the other half
//   std::byte* heap();                   the exchange heap's first byte
//   void put(const Slot&);               publish on our message ring
//   bool kick();                         tell the honest side; false when it
//                                        reported the channel closed
//   bool take(Slot&);                    one reply, if there is one
//   bool wait(std::chrono::milliseconds) until a reply or a close may be there
//   void give_back(WireBytes);           the honest side's buffer, home
//   bool take_return(WireBytes&);        our buffer, home from the honest side
//   void close(std::uint32_t reason);    publish our close with any reason
//   HonestClose honest_close();          the honest side's close, if any
//   AtEnd at_end() const;                what the honest side does once the
//                                        protocol reached `end`
//   void settle();                       until the honest side is done with
//                                        every message we sent, the returns
//                                        of their regions included (a server
//                                        may drop a message's bytes after it
//                                        sent its reply)
//   bool drains_returns_first() const;   whether the honest side takes our
//                                        return ring before it looks at the
//                                        next message (milk.ko: every kick;
//                                        user space: only when it allocates)
//   ErrorCode reason_after_our_close(std::uint32_t word) const;
//                                        the reason the honest side closes
//                                        with once we closed with `word`
// and a factory `Link open()` per contract.

// What an honest side does once the protocol reached `end`.
enum class AtEnd : std::uint8_t {
    Refuses,  // it stays open and closes the channel on any further message
              // (milk.ko's servers called per message: the validator says
              // "message after end")
    Ignores,  // it stops reading; the channel stays open until we close it
              // (milk.ko's servers in a thread of their own)
    Closes,   // it closes its end normally (the process transport's endpoints)
};

// The hostile messages the driver writes. Each is chosen only where the
// contract and the model make it meaningful (a bool mutation needs a bool).
enum class Mutation : std::uint8_t {
    UnknownTag,       // tag 0, or past the contract's last
    WrongTag,         // a message of the contract the client may not send now
    Length,           // the length is not the payload's size
    Flags,            // reserved flags set
    Bool,             // a bool that is neither 0 nor 1
    Enum,             // an enum value not declared
    HandleBounds,     // a handle out of the heap, across pools, wrapping
    HandleNotLent,    // a block of the honest side's pool it never lent us
    HandleHeld,       // a region of ours the honest side holds already
    HandleTooLong,    // a hand-back longer than the block lent
    HandleStale,      // a hand-back of a block we already gave back
    RandomSlot,       // 64 random bytes
    AfterEnd,         // anything after the protocol reached `end`
    CloseReason,      // we close with an arbitrary reason word
    ForgedReturn,     // a return-ring entry naming nothing the honest side lent
    HostileValues,    // a valid message of extreme values (0, ~0, 2^63, a
                      // buffer at the pool's very end): it must be answered
    Count
};

inline const char* mutation_name(Mutation mutation) {
    switch (mutation) {
    case Mutation::UnknownTag: return "unknown tag";
    case Mutation::WrongTag: return "message not allowed now";
    case Mutation::Length: return "bad length";
    case Mutation::Flags: return "flags set";
    case Mutation::Bool: return "bool not 0/1";
    case Mutation::Enum: return "undeclared enum";
    case Mutation::HandleBounds: return "handle out of bounds";
    case Mutation::HandleNotLent: return "handle never lent";
    case Mutation::HandleHeld: return "handle held already";
    case Mutation::HandleTooLong: return "hand-back too long";
    case Mutation::HandleStale: return "hand-back of a returned block";
    case Mutation::RandomSlot: return "random slot";
    case Mutation::AfterEnd: return "message after end";
    case Mutation::CloseReason: return "close with any reason";
    case Mutation::ForgedReturn: return "forged return";
    case Mutation::HostileValues: return "extreme values (answered)";
    case Mutation::Count: break;
    }
    return "?";
}

struct Stats {
    std::uint64_t hostile = 0;       // messages the honest side had to refuse or ignore
    std::uint64_t honest = 0;        // messages it had to serve
    std::uint64_t replies = 0;       // replies checked
    std::uint64_t channels = 0;      // channels opened
    std::uint64_t closes_checked = 0;
    std::array<std::uint64_t, static_cast<std::size_t>(Mutation::Count)> by_mutation{};
};

// A failed check: where, and what the model expected. The caller prints it
// and fails.
struct Failure {
    std::string what;
};

// The driver's verdict on one message it is about to send.
struct Expected {
    bool refused = false;  // the honest side must close the channel
    ErrorCode reason = ErrorCode::ProtocolViolation;
    int kstub_code = MILK_KV_OK;
};

template <typename Link, typename OpenLink>
class ContractPeer {
public:
    ContractPeer(const milk_kcontract& contract, OpenLink open, std::uint64_t seed)
        : m_contract(contract), m_open(std::move(open)), m_random(seed) {}

    // Runs until `hostile` hostile messages were sent (and each checked).
    // Returns the first failure, if any.
    [[nodiscard]] std::optional<Failure> run(std::uint64_t hostile) {
        while (m_stats.hostile < hostile) {
            if (auto failed = one_channel(hostile); failed) return failed;
        }
        return std::nullopt;
    }

    [[nodiscard]] const Stats& stats() const { return m_stats; }

private:
    using Clock = std::chrono::steady_clock;
    static constexpr std::chrono::milliseconds reply_deadline{10'000};
    // Our pool is cut into blocks of this size for the honest buffers.
    static constexpr std::uint32_t block_bytes = 1024;

    struct Region {
        std::uint32_t offset;
        std::uint32_t length;
    };

    // The model of one channel.
    struct Model {
        milk_kstate client{};            // the state as the client tracks it
        milk_kstate server{};            // the server's tracker, to run its validator
        std::vector<Region> held;        // our regions the honest side holds
        std::map<std::uint32_t, std::uint32_t> lent_to_us;  // its blocks we have: offset -> length
        std::vector<Region> given_back;  // its blocks we gave back (stale)
    };

    // ---- the protocol, from the descriptor -------------------------------

    [[nodiscard]] bool client_speaks(std::uint32_t state) const {
        std::uint32_t next = 0;
        for (std::uint32_t tag = 1; tag <= m_contract.tag_count; ++tag) {
            if (m_contract.step(state, MILK_KSIDE_CLIENT, tag, &next) != 0) return true;
        }
        return false;
    }
    [[nodiscard]] std::vector<std::uint16_t> client_tags(std::uint32_t state, bool allowed) const {
        std::vector<std::uint16_t> tags;
        std::uint32_t next = 0;
        for (std::uint32_t tag = 1; tag <= m_contract.tag_count; ++tag) {
            if ((m_contract.step(state, MILK_KSIDE_CLIENT, tag, &next) != 0) == allowed)
                tags.push_back(static_cast<std::uint16_t>(tag));
        }
        return tags;
    }
    // A message the client may send now; one that ends the protocol only
    // now and then, so that channels live long enough to reach every state.
    std::uint16_t honest_tag(std::uint32_t state) {
        const auto tags = client_tags(state, true);
        std::vector<std::uint16_t> going_on;
        std::uint32_t next = 0;
        for (std::uint16_t tag : tags) {
            static_cast<void>(m_contract.step(state, MILK_KSIDE_CLIENT, tag, &next));
            if (next != m_contract.end_state) going_on.push_back(tag);
        }
        return going_on.empty() || one_in(16) ? pick(tags) : pick(going_on);
    }
    [[nodiscard]] const milk_kmessage& message_of(std::uint16_t tag) const { return m_contract.messages[tag - 1]; }

    // ---- randomness --------------------------------------------------------

    std::uint64_t random(std::uint64_t bound) { return std::uniform_int_distribution<std::uint64_t>(0, bound - 1)(m_random); }
    bool one_in(std::uint64_t n) { return random(n) == 0; }
    template <typename T>
    const T& pick(const std::vector<T>& from) {
        return from[random(from.size())];
    }

    // The values an honest message carries.
    enum class Values : std::uint8_t { Ordinary, Extreme };

    // An integer of `size` bytes: small or random ones, or the extremes a
    // server's arithmetic must survive (0, 1, the largest, the sign bit).
    std::uint64_t integer(std::uint32_t size, Values values) {
        const std::uint64_t mask = size == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * size)) - 1;
        if (values == Values::Ordinary) return one_in(2) ? random(8) : m_random() & mask;
        switch (random(6)) {
        case 0: return 0;
        case 1: return 1;
        case 2: return mask;
        case 3: return mask - 1;
        case 4: return (mask >> 1) + 1;
        default: return mask >> 1;
        }
    }

    static void write_field(Slot& slot, const milk_kfield& field, std::uint64_t value) {
        std::memcpy(slot.payload + field.offset, &value, field.size);  // little-endian: the low bytes
    }
    static std::uint64_t read_field(const Slot& slot, const milk_kfield& field) {
        std::uint64_t value = 0;
        std::memcpy(&value, slot.payload + field.offset, field.size);
        return value;
    }
    static WireBytes read_handle(const Slot& slot, const milk_kfield& field) {
        WireBytes handle{};
        std::memcpy(&handle, slot.payload + field.offset, sizeof(handle));
        return handle;
    }
    static void write_handle(Slot& slot, const milk_kfield& field, WireBytes handle) {
        std::memcpy(slot.payload + field.offset, &handle, sizeof(handle));
    }

    // ---- the ownership model -----------------------------------------------

    [[nodiscard]] bool ours(std::uint32_t offset) const { return offset - m_own < m_pool; }
    static bool overlaps(Region a, Region b) {
        const std::uint64_t a_end = std::uint64_t{a.offset} + std::max<std::uint32_t>(a.length, 1);
        const std::uint64_t b_end = std::uint64_t{b.offset} + std::max<std::uint32_t>(b.length, 1);
        return a.offset < b_end && b.offset < a_end;
    }
    // The block the honest side's buddy allocator gave for `length` bytes.
    static std::uint32_t block_of(std::uint32_t length) {
        return std::bit_ceil(std::max<std::uint32_t>(length, 64));
    }

    // A free region of our pool for an honest buffer, or nullopt.
    // Extreme: a whole block, or one byte, at either end of the pool.
    std::optional<Region> free_region(const Model& model, Values values) {
        const std::uint32_t blocks = m_pool / block_bytes;
        for (int attempt = 0; attempt < 16; ++attempt) {
            const auto block = static_cast<std::uint32_t>(values == Values::Extreme ? (one_in(2) ? 0 : blocks - 1)
                                                                                    : random(blocks));
            std::uint32_t length = 1 + static_cast<std::uint32_t>(random(block_bytes));
            if (values == Values::Extreme) length = one_in(2) ? block_bytes : 1;
            Region region{block * block_bytes, length};
            if (values == Values::Extreme && block == blocks - 1) region.offset = m_pool - length;
            region.offset += m_own;
            if (std::none_of(model.held.begin(), model.held.end(), [&](Region held) { return overlaps(held, region); }))
                return region;
        }
        return std::nullopt;
    }

    // What the honest side's ledger says of the handles of a message that
    // passed its validator, applied to `model` when it accepts them all.
    Expected ownership_verdict(Model& model, const Slot& slot, std::uint16_t tag) const {
        const milk_kmessage& message = message_of(tag);
        Model after = model;
        for (std::uint32_t i = 0; i < message.field_count; ++i) {
            const milk_kfield& field = message.fields[i];
            if (field.kind != MILK_KFIELD_BYTES) continue;
            const WireBytes handle = read_handle(slot, field);
            const Region region{handle.offset, handle.length};
            if (ours(handle.offset)) {
                // Ours: held from now on, unless it overlaps a region held already.
                if (std::any_of(after.held.begin(), after.held.end(), [&](Region held) { return overlaps(held, region); }))
                    return Expected{true, ErrorCode::BadBuffer, MILK_KV_BAD_HANDLE};
                after.held.push_back(region);
            } else {
                // The honest side's: only the start of a block it lent us, at
                // most the block's size.
                auto lent = after.lent_to_us.find(handle.offset);
                if (lent == after.lent_to_us.end() || handle.length > block_of(lent->second))
                    return Expected{true, ErrorCode::BadBuffer, MILK_KV_BAD_HANDLE};
                after.lent_to_us.erase(lent);
            }
        }
        model = std::move(after);
        return Expected{};
    }

    // The whole verdict: the contract's validator on a copy of the server's
    // tracker, then the ledger. Applies the message to the model when the
    // honest side must accept it.
    Expected verdict(Model& model, const Slot& slot) const {
        milk_kstate server = model.server;
        const milk_kpool both{0, 2ull * m_pool};
        alignas(8) std::array<std::byte, sizeof(Slot)> decoded{};
        milk_kviolation violation{};
        const int code = m_contract.validate(&server, &slot, &both, decoded.data(), &violation);
        if (code != MILK_KV_OK)
            return Expected{true, code == MILK_KV_BAD_HANDLE ? ErrorCode::BadBuffer : ErrorCode::ProtocolViolation, code};
        Expected owned = ownership_verdict(model, slot, slot.tag);
        if (owned.refused) return owned;
        model.server = server;
        std::uint32_t next = 0;
        static_cast<void>(m_contract.step(model.client.state, MILK_KSIDE_CLIENT, slot.tag, &next));
        model.client.state = next;
        return owned;
    }

    // ---- messages ----------------------------------------------------------

    Slot honest_message(Model& model, std::uint16_t tag, Values values = Values::Ordinary) {
        Slot slot{};
        slot.tag = tag;
        const milk_kmessage& message = message_of(tag);
        slot.length = static_cast<std::uint16_t>(message.payload_size);
        std::vector<Region> taken;
        for (std::uint32_t i = 0; i < message.field_count; ++i) {
            const milk_kfield& field = message.fields[i];
            switch (field.kind) {
            case MILK_KFIELD_BOOL: write_field(slot, field, random(2)); break;
            case MILK_KFIELD_ENUM: write_field(slot, field, field.values[random(field.value_count)]); break;
            case MILK_KFIELD_BYTES: {
                // Sometimes a block the honest side lent us goes back in the
                // message (a hand-back, as the runtime allows); else one of
                // ours, with bytes in it.
                if (!model.lent_to_us.empty() && one_in(4)) {
                    auto lent = model.lent_to_us.begin();
                    std::advance(lent, static_cast<long>(random(model.lent_to_us.size())));
                    const bool already = std::any_of(taken.begin(), taken.end(),
                                                     [&](Region r) { return r.offset == lent->first; });
                    if (!already) {
                        write_handle(slot, field, WireBytes{lent->first, 1 + static_cast<std::uint32_t>(random(lent->second == 0 ? 1 : lent->second))});
                        taken.push_back(Region{lent->first, 0});
                        break;
                    }
                }
                Model scratch = model;
                for (Region r : taken)
                    if (ours(r.offset)) scratch.held.push_back(r);
                auto region = free_region(scratch, values);
                if (!region) region = Region{0, 1};  // the model will say whether it is refused
                for (std::uint32_t b = 0; b < region->length; ++b)
                    m_heap[region->offset + b] = static_cast<std::byte>(m_random());
                write_handle(slot, field, WireBytes{region->offset, region->length});
                taken.push_back(*region);
                break;
            }
            default: write_field(slot, field, integer(field.size, values)); break;
            }
        }
        return slot;
    }

    // A hostile variant of an honest message of the current state, or of
    // any slot. Returns nullopt when `mutation` means nothing here.
    std::optional<Slot> hostile_message(Model& model, Mutation mutation) {
        const auto allowed = client_tags(model.client.state, true);
        if (allowed.empty() && mutation != Mutation::AfterEnd && mutation != Mutation::RandomSlot) return std::nullopt;
        Slot slot = allowed.empty() ? Slot{} : honest_message(model, pick(allowed));
        auto fields_of = [&](std::uint32_t kind) {
            std::vector<const milk_kfield*> found;
            const milk_kmessage& message = message_of(slot.tag);
            for (std::uint32_t i = 0; i < message.field_count; ++i)
                if (message.fields[i].kind == kind) found.push_back(&message.fields[i]);
            return found;
        };
        switch (mutation) {
        case Mutation::UnknownTag:
            slot.tag = one_in(2) ? 0 : static_cast<std::uint16_t>(m_contract.tag_count + 1 + random(0xffff - m_contract.tag_count));
            return slot;
        case Mutation::WrongTag: {
            const auto others = client_tags(model.client.state, false);
            if (others.empty()) return std::nullopt;
            const std::uint16_t tag = pick(others);
            slot = Slot{};
            slot.tag = tag;
            slot.length = static_cast<std::uint16_t>(message_of(tag).payload_size);
            return slot;
        }
        case Mutation::Length: {
            const std::uint16_t right = slot.length;
            do slot.length = static_cast<std::uint16_t>(random(4) == 0 ? m_random() : random(slot_payload_size + 1));
            while (slot.length == right);
            return slot;
        }
        case Mutation::Flags:
            slot.flags = static_cast<std::uint32_t>(1 + random(0xffffffffu));
            return slot;
        case Mutation::Bool: {
            const auto bools = fields_of(MILK_KFIELD_BOOL);
            if (bools.empty()) return std::nullopt;
            write_field(slot, *pick(bools), 2 + random(254));
            return slot;
        }
        case Mutation::Enum: {
            const auto enums = fields_of(MILK_KFIELD_ENUM);
            if (enums.empty()) return std::nullopt;
            const milk_kfield& field = *pick(enums);
            std::uint64_t value = 0;
            do value = integer(field.size, one_in(2) ? Values::Ordinary : Values::Extreme);
            while (std::find(field.values, field.values + field.value_count, value) != field.values + field.value_count);
            write_field(slot, field, value);
            return slot;
        }
        case Mutation::HandleBounds:
        case Mutation::HandleNotLent:
        case Mutation::HandleHeld:
        case Mutation::HandleTooLong:
        case Mutation::HandleStale: {
            const auto handles = fields_of(MILK_KFIELD_BYTES);
            if (handles.empty()) return std::nullopt;
            auto bad = bad_handle(model, mutation);
            if (!bad) return std::nullopt;
            write_handle(slot, *pick(handles), *bad);
            return slot;
        }
        case Mutation::RandomSlot:
            for (std::byte& b : std::span<std::byte>(reinterpret_cast<std::byte*>(&slot), sizeof(slot)))
                b = static_cast<std::byte>(m_random());
            if (one_in(2)) slot.tag = static_cast<std::uint16_t>(1 + random(m_contract.tag_count));
            return slot;
        case Mutation::AfterEnd:
        case Mutation::CloseReason:
        case Mutation::ForgedReturn:
        case Mutation::HostileValues:
        case Mutation::Count:
            break;
        }
        return std::nullopt;
    }

    std::optional<WireBytes> bad_handle(const Model& model, Mutation mutation) {
        const std::uint32_t p = m_pool;
        switch (mutation) {
        case Mutation::HandleBounds: {
            const WireBytes cases[] = {
                {0, 2 * p + 1},                     // longer than the heap
                {2 * p - 8, 16},                    // across the heap's end
                {0xFFFFFFF0u, 0x20},                // wrapping around 2^32
                {2 * p + static_cast<std::uint32_t>(random(1u << 20)), 8},  // past the heap
                {static_cast<std::uint32_t>(random(2 * p)), 0xFFFFFFFFu},   // a length past everything
            };
            return cases[random(std::size(cases))];
        }
        case Mutation::HandleNotLent: {
            // Inside the honest side's pool, never the start of a block
            // (blocks start on 64 bytes): not one it lent us, nor one we gave
            // back that it may not have taken off the return ring yet.
            const std::uint32_t relative = static_cast<std::uint32_t>(random(p / 64) * 64 + 1 + random(63));
            return WireBytes{m_peer + relative, 1 + static_cast<std::uint32_t>(random(p - relative))};
        }
        case Mutation::HandleHeld: {
            if (model.held.empty()) return std::nullopt;
            const Region held = pick(model.held);
            return WireBytes{held.offset + static_cast<std::uint32_t>(random(std::max<std::uint32_t>(held.length, 1))), 1};
        }
        case Mutation::HandleTooLong: {
            if (model.lent_to_us.empty()) return std::nullopt;
            auto lent = model.lent_to_us.begin();
            std::advance(lent, static_cast<long>(random(model.lent_to_us.size())));
            const std::uint32_t block = block_of(lent->second);
            if (lent->first - m_peer + block >= p) return std::nullopt;  // past the pool: a bounds case, not this one
            return WireBytes{lent->first, block + 1 + static_cast<std::uint32_t>(random(64))};
        }
        case Mutation::HandleStale: {
            if (!m_drains_returns_first) return std::nullopt;
            for (const Region& stale : model.given_back) {
                if (model.lent_to_us.count(stale.offset) == 0) return WireBytes{stale.offset, stale.length};
            }
            return std::nullopt;
        }
        default: return std::nullopt;
        }
    }

    // ---- one channel -------------------------------------------------------

    std::optional<Failure> fail(const Model& model, const std::string& what) const {
        return Failure{std::string(m_contract.name) + ", state " + std::to_string(model.client.state) + ": " + what};
    }

    // Takes every return of ours the honest side made, each one a region the
    // model says it held.
    std::optional<Failure> drain_returns(Link& link, Model& model) {
        WireBytes entry{};
        while (link.take_return(entry)) {
            auto held = std::find_if(model.held.begin(), model.held.end(),
                                     [&](Region r) { return r.offset == entry.offset && r.length == entry.length; });
            if (held == model.held.end())
                return fail(model, "the honest side returned a region it did not hold: offset " +
                                       std::to_string(entry.offset) + " length " + std::to_string(entry.length));
            model.held.erase(held);
        }
        return std::nullopt;
    }

    // One reply: valid from the client's side, its handles either ours that
    // the server held (handed back) or blocks of its pool (lent to us).
    std::optional<Failure> check_reply(Link& link, Model& model, const Slot& reply) {
        ++m_stats.replies;
        const milk_kpool both{0, 2ull * m_pool};
        alignas(8) std::array<std::byte, sizeof(Slot)> decoded{};
        milk_kviolation violation{};
        const int code = m_contract.validate(&model.client, &reply, &both, decoded.data(), &violation);
        if (code != MILK_KV_OK)
            return fail(model, std::string("a reply the contract does not allow: ") + milk_kcode_name(code) +
                                   (violation.field != nullptr ? std::string(" at ") + violation.field : ""));
        // The server's own tracker follows its send.
        if (m_contract.on_send(&model.server, reply.tag) != MILK_KV_OK) return fail(model, "the server's tracker disagrees");
        const milk_kmessage& message = message_of(reply.tag);
        for (std::uint32_t i = 0; i < message.field_count; ++i) {
            const milk_kfield& field = message.fields[i];
            if (field.kind != MILK_KFIELD_BYTES) continue;
            const WireBytes handle = read_handle(reply, field);
            if (ours(handle.offset)) {
                auto held = std::find_if(model.held.begin(), model.held.end(),
                                         [&](Region r) { return r.offset == handle.offset && handle.length <= r.length; });
                if (held == model.held.end())
                    return fail(model, std::string("a reply handed us a region of ours the server did not hold (") +
                                           message.name + "." + field.name + ")");
                model.held.erase(held);
            } else {
                if (model.lent_to_us.count(handle.offset) != 0)
                    return fail(model, "the server lent one block twice");
                model.lent_to_us[handle.offset] = handle.length;
                // Usually given back at once; sometimes kept, to be handed
                // back in a message later (or given back when the channel
                // turns hostile).
                if (!one_in(3)) {
                    link.give_back(handle);
                    model.lent_to_us.erase(handle.offset);
                    remember_given_back(model, Region{handle.offset, handle.length});
                }
            }
        }
        return std::nullopt;
    }

    static void remember_given_back(Model& model, Region region) {
        if (model.given_back.size() >= 8) model.given_back.erase(model.given_back.begin());
        model.given_back.push_back(region);
    }

    // Waits for and checks the replies until the client may speak or the
    // protocol ended.
    std::optional<Failure> await_replies(Link& link, Model& model) {
        const auto deadline = Clock::now() + reply_deadline;
        while (model.client.state != m_contract.end_state && !client_speaks(model.client.state)) {
            Slot reply{};
            if (link.take(reply)) {
                if (auto failed = check_reply(link, model, reply); failed) return failed;
                continue;
            }
            const HonestClose close = link.honest_close();
            if (close.closed) return fail(model, "the honest side closed the channel instead of answering: " + close.text);
            if (Clock::now() >= deadline) return fail(model, "no reply within the deadline");
            static_cast<void>(link.wait(std::chrono::milliseconds(100)));
        }
        return drain_returns(link, model);
    }

    // After a refused message: the honest side closed, for the model's reason.
    std::optional<Failure> expect_closed(Link& link, const Model& model, const Expected& expected, Mutation mutation) {
        const auto deadline = Clock::now() + reply_deadline;
        HonestClose close = link.honest_close();
        while (!close.closed && Clock::now() < deadline) {
            static_cast<void>(link.wait(std::chrono::milliseconds(100)));
            close = link.honest_close();
        }
        ++m_stats.closes_checked;
        const std::string what = std::string(mutation_name(mutation)) + ": ";
        if (!close.closed) return fail(model, what + "the honest side did not close the channel");
        if (close.reason != expected.reason)
            return fail(model, what + "closed for reason " + std::to_string(static_cast<int>(close.reason)) +
                                   ", expected " + std::to_string(static_cast<int>(expected.reason)) + " (" +
                                   close.text + ")");
        if (close.kstub_code && *close.kstub_code != expected.kstub_code)
            return fail(model, what + "validator code " + std::to_string(*close.kstub_code) + ", expected " +
                                   std::to_string(expected.kstub_code) + " (" + close.text + ")");
        return std::nullopt;
    }

    // Most hostile messages cost the honest side a channel, and a channel
    // costs far more than a message (milk.ko: about 100 us under TCG to open
    // and close): a third of them close it, the rest must be answered or
    // ignored, and the channel goes on.
    Mutation choose_mutation() {
        const std::uint64_t roll = random(100);
        if (roll < 40) return Mutation::HostileValues;
        if (roll < 65) return Mutation::ForgedReturn;
        for (;;) {
            const auto closing = static_cast<Mutation>(random(static_cast<std::uint64_t>(Mutation::ForgedReturn)));
            if (closing != Mutation::AfterEnd) return closing;
        }
    }

    std::optional<Failure> one_channel(std::uint64_t target) {
        Link link = m_open();
        ++m_stats.channels;
        m_pool = link.pool_bytes();
        m_own = link.own_pool_begin();
        m_peer = m_own == 0 ? m_pool : 0;
        m_drains_returns_first = link.drains_returns_first();
        m_heap = link.heap();
        Model model;
        m_contract.init(&model.client, MILK_KSIDE_CLIENT);
        m_contract.init(&model.server, MILK_KSIDE_SERVER);
        // Honest traffic first, a random amount of it, so that hostile
        // messages come in every state and with every ownership history.
        std::uint64_t honest_left = random(6);
        for (;;) {
            if (auto failed = await_replies(link, model); failed) return failed;
            const bool ended = model.client.state == m_contract.end_state;
            if (m_stats.hostile >= target && !ended) {
                link.close(0);
                return std::nullopt;
            }
            if (honest_left > 0 && !ended) {
                --honest_left;
                Slot slot = honest_message(model, honest_tag(model.client.state));
                const Expected expected = verdict(model, slot);
                if (expected.refused) return fail(model, "the driver built an honest message its model refuses");
                ++m_stats.honest;
                link.put(slot);
                if (!link.kick() && !closes_at_end(link, model))
                    return fail(model, "the honest side closed on an honest message: " + link.honest_close().text);
                continue;
            }
            // The protocol ended. A server that closes its end there (the
            // process transport's generated endpoints) must close normally;
            // one that stays until we close (milk.ko) must refuse anything
            // more.
            if (ended && link.at_end() == AtEnd::Closes)
                return expect_peer_gone(link, model, "end of the protocol", ErrorCode::PeerClosed);
            // A hostile message.
            const Mutation mutation = ended ? (one_in(2) ? Mutation::AfterEnd : Mutation::CloseReason) : choose_mutation();
            if (mutation == Mutation::ForgedReturn) {
                // Ignored: the channel must go on as if nothing came.
                link.give_back(forged_return(model));
                count(mutation);
                honest_left = 1 + random(3);
                continue;
            }
            if (mutation == Mutation::CloseReason) {
                // Any word: a real ErrorCode now and then, else noise.
                const auto word = static_cast<std::uint32_t>(one_in(2) ? random(12) : m_random());
                link.close(word);
                static_cast<void>(link.kick());
                count(mutation);
                // A server that stopped reading at `end` does not look.
                if (ended && link.at_end() == AtEnd::Ignores) return std::nullopt;
                // Whatever we wrote, the honest side takes it for our close:
                // it closes too, normally, and never takes the word for its own.
                return expect_peer_gone(link, model, mutation_name(mutation), link.reason_after_our_close(word));
            }
            if (mutation == Mutation::HostileValues) {
                Slot slot = honest_message(model, honest_tag(model.client.state), Values::Extreme);
                if (verdict(model, slot).refused) return fail(model, "the driver built extreme values its model refuses");
                count(mutation);
                link.put(slot);
                if (!link.kick() && !closes_at_end(link, model))
                    return fail(model, "the honest side closed on extreme values: " + link.honest_close().text);
                continue;
            }
            std::optional<Slot> slot;
            if (mutation == Mutation::AfterEnd) {
                const std::uint16_t tag = static_cast<std::uint16_t>(1 + random(m_contract.tag_count));
                slot = Slot{};
                slot->tag = tag;
                slot->length = static_cast<std::uint16_t>(message_of(tag).payload_size);
                if (link.at_end() == AtEnd::Ignores) {
                    // Nobody reads it: the channel must stay as it is, open on
                    // the honest side, until we close it.
                    link.put(*slot);
                    static_cast<void>(link.kick());
                    count(mutation);
                    if (link.honest_close().closed)
                        return fail(model, "message after end: closed by a server that stopped reading");
                    link.close(0);
                    return std::nullopt;
                }
            } else {
                // "Held already" must name a region the honest side still
                // holds: one it dropped after its reply may be on the return
                // ring, free again, so first let it finish and take its returns.
                if (mutation == Mutation::HandleHeld) {
                    link.settle();
                    if (auto failed = drain_returns(link, model); failed) return failed;
                }
                slot = hostile_message(model, mutation);
            }
            if (!slot) continue;  // means nothing here: choose again
            Model after = model;
            const Expected expected = verdict(after, *slot);
            link.put(*slot);
            if (!expected.refused) {
                // A mutation that happens to be a valid message (a random
                // slot can be): served like any other.
                model = std::move(after);
                ++m_stats.honest;
                if (!link.kick() && !closes_at_end(link, model))
                    return fail(model, "the honest side closed on a valid message: " + link.honest_close().text);
                continue;
            }
            count(mutation);
            static_cast<void>(link.kick());
            return expect_closed(link, model, expected, mutation);
        }
    }

    // Whether the message just sent ended the protocol on a link whose
    // honest side then closes: its close is expected (and checked next).
    bool closes_at_end(const Link& link, const Model& model) const {
        return model.client.state == m_contract.end_state && link.at_end() == AtEnd::Closes;
    }

    // After our close, or at the end of the protocol: the honest side
    // closed too, normally.
    std::optional<Failure> expect_peer_gone(Link& link, const Model& model, const std::string& when,
                                            ErrorCode expected) {
        const auto deadline = Clock::now() + reply_deadline;
        HonestClose close = link.honest_close();
        while (!close.closed && Clock::now() < deadline) {
            static_cast<void>(link.wait(std::chrono::milliseconds(100)));
            close = link.honest_close();
        }
        ++m_stats.closes_checked;
        if (!close.closed) return fail(model, when + ": the honest side did not close");
        if (close.reason != expected)
            return fail(model, when + ": the honest side closed for reason " +
                                   std::to_string(static_cast<int>(close.reason)) + " (" + close.text + ")");
        return std::nullopt;
    }

    WireBytes forged_return(const Model& model) {
        const std::uint32_t p = m_pool;
        for (;;) {
            WireBytes forged{};
            switch (random(4)) {
            case 0: forged = {m_own + static_cast<std::uint32_t>(random(p)), 64}; break;  // our own pool
            case 1: forged = {m_peer + static_cast<std::uint32_t>(random(p)), 1 + static_cast<std::uint32_t>(random(4096))}; break;
            case 2: forged = {static_cast<std::uint32_t>(m_random()), static_cast<std::uint32_t>(m_random())}; break;
            default:
                if (model.given_back.empty()) continue;
                forged = {model.given_back.back().offset, model.given_back.back().length};  // again
                break;
            }
            // Never a block it really lent us and we still have.
            if (model.lent_to_us.count(forged.offset) == 0) return forged;
        }
    }

    void count(Mutation mutation) {
        ++m_stats.hostile;
        ++m_stats.by_mutation[static_cast<std::size_t>(mutation)];
    }

    const milk_kcontract& m_contract;
    OpenLink m_open;
    std::mt19937_64 m_random;
    Stats m_stats;
    std::uint32_t m_pool = 0;
    std::uint32_t m_own = 0;   // our pool: [m_own, m_own + m_pool)
    std::uint32_t m_peer = 0;  // the honest side's
    bool m_drains_returns_first = true;
    std::byte* m_heap = nullptr;
};

// Prints what a run did: per mutation, how many.
inline void print_stats(const char* contract, const Stats& stats, double seconds) {
    std::printf("%s: %llu hostile messages (%llu honest, %llu replies checked) on %llu channels in %.1f s\n", contract,
                static_cast<unsigned long long>(stats.hostile), static_cast<unsigned long long>(stats.honest),
                static_cast<unsigned long long>(stats.replies), static_cast<unsigned long long>(stats.channels), seconds);
    for (std::size_t i = 0; i < stats.by_mutation.size(); ++i) {
        if (stats.by_mutation[i] == 0) continue;
        std::printf("  %-30s %llu\n", mutation_name(static_cast<Mutation>(i)),
                    static_cast<unsigned long long>(stats.by_mutation[i]));
    }
}

}  // namespace milk::hostile
