// The directory component: the registrar of contracts/directory.contract, a
// name service in the style of Singularity's and Barrelfish's. A client may
// look names up (or hang up); after it proves who it is through the `Auth`
// sub-protocol, it may also register and deregister them, in `Admin`, where
// a session handed over in the middle may also start (an entry state).
//
// One source for every placement, milk.ko included, so it uses only what
// the freestanding runtime has: the generated endpoints, milk::Result and a
// fixed table (no std::map), kept in the component (not on the serving
// stack: a kernel frame must stay small). Each channel gets a directory of
// its own, emptied when a session starts.
#pragma once

#include "directory.hpp"  // generated from contracts/directory.contract

#include <milk/component.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>

namespace components::directory {

namespace Names = examples::directory;
namespace Registry = examples::directory::Registry;

// The most names one session's directory holds; a Register beyond it is
// answered with `denied`.
inline constexpr std::size_t capacity = 32;

// The proof a client gives for the server's nonce: nonce XOR the shared
// secret (the instance's `secret` setting). A toy, standing for a real
// authentication exchange; what matters here is the protocol's shape.
inline constexpr std::uint64_t default_secret = 0x5eed;
inline constexpr std::uint64_t nonce = 0x1234;

[[nodiscard]] constexpr std::uint64_t proof_of(std::uint64_t challenge, std::uint64_t secret) {
    return challenge ^ secret;
}

// What one session did.
struct SessionReport {
    std::uint32_t registered = 0;
    std::uint32_t deregistered = 0;
    std::uint32_t lookups = 0;
    std::uint32_t refused_logins = 0;
    bool hung_up = false;  // the client closed instead of saying Bye
};

// One session's names.
class Table {
public:
    struct Entry {
        std::uint64_t name = 0;
        std::uint64_t node = 0;
        Names::Rights rights{};
        bool used = false;
    };

    [[nodiscard]] const Entry* find(std::uint64_t name) const {
        for (const Entry& entry : m_entries) {
            if (entry.used && entry.name == name) return &entry;
        }
        return nullptr;
    }

    [[nodiscard]] Names::Status add(std::uint64_t name, std::uint64_t node, Names::Rights rights) {
        if (find(name) != nullptr) return Names::Status::exists;
        for (Entry& entry : m_entries) {
            if (entry.used) continue;
            entry = Entry{name, node, rights, true};
            return Names::Status::ok;
        }
        return Names::Status::denied;
    }

    [[nodiscard]] Names::Status remove(std::uint64_t name) {
        for (Entry& entry : m_entries) {
            if (!entry.used || entry.name != name) continue;
            entry.used = false;
            return Names::Status::ok;
        }
        return Names::Status::not_found;
    }

private:
    std::array<Entry, capacity> m_entries{};
};

// The registrar's loop: in Ready or in Admin until Bye or a hang-up.
class Session {
public:
    Session(std::uint64_t secret, Table& table) : m_secret(secret), m_table(table) {}

    [[nodiscard]] milk::Result<SessionReport> run(std::optional<Registry::Server<Registry::state::Ready>> ready,
                                                  std::optional<Registry::Server<Registry::state::Admin>> admin) {
        // Each receive takes the endpoint out of its optional first: the
        // handlers fill one of them with the next.
        while (ready || admin) {
            milk::Result<void> step{};
            if (ready) {
                Ready current = std::move(*ready);
                ready.reset();
                step = in_ready(std::move(current), ready, admin);
            } else {
                Admin current = std::move(*admin);
                admin.reset();
                step = in_admin(std::move(current), admin);
            }
            if (!step) return step.error();
        }
        return m_report;
    }

private:
    using Ready = Registry::Server<Registry::state::Ready>;
    using Admin = Registry::Server<Registry::state::Admin>;

    // Found or Missing, from Ready or Admin: the endpoint back where it was.
    template <typename Answer>
    [[nodiscard]] auto answer_lookup(std::uint64_t name, Answer&& answer) {
        ++m_report.lookups;
        const Table::Entry* entry = m_table.find(name);
        if (entry == nullptr) return std::move(answer).send(Registry::Missing{Names::Status::not_found});
        return std::move(answer).send(Registry::Found{entry->node, entry->rights});
    }

    [[nodiscard]] milk::Result<void> in_ready(Ready&& current, std::optional<Ready>& ready,
                                              std::optional<Admin>& admin) {
        return std::move(current).receive(
            [&](Registry::Lookup&& lookup, Registry::Server<Registry::state::Ready_Lookup>&& answer) -> milk::Result<void> {
                ready.emplace(MILK_TRY(answer_lookup(lookup.name, std::move(answer))));
                return {};
            },
            [&](Registry::Login&&, Registry::Server<Registry::state::Ready_Login_Ask>&& ask) -> milk::Result<void> {
                auto challenged = MILK_TRY(std::move(ask).send(Registry::Challenge{nonce}));
                return std::move(challenged).receive(
                    [&](Registry::Proof&& proof,
                        Registry::Server<Registry::state::Ready_Login_Answer_Proof>&& decide) -> milk::Result<void> {
                        if (proof.value == proof_of(nonce, m_secret)) {
                            const Names::Rights all = Names::Rights::read | Names::Rights::write | Names::Rights::admin;
                            admin.emplace(MILK_TRY(std::move(decide).send(Registry::Granted{all})));
                        } else {
                            ++m_report.refused_logins;
                            ready.emplace(MILK_TRY(std::move(decide).send(Registry::Refused{Names::Status::denied})));
                        }
                        return {};
                    });
            },
            [](Registry::Bye&&) -> milk::Result<void> { return {}; },
            [&](milk::HungUp) -> milk::Result<void> {
                m_report.hung_up = true;
                return {};
            });
    }

    [[nodiscard]] milk::Result<void> in_admin(Admin&& current, std::optional<Admin>& admin) {
        return std::move(current).receive(
            [&](Registry::Register&& add, Registry::Server<Registry::state::Admin_Register>&& result) -> milk::Result<void> {
                const Names::Status status = m_table.add(add.name, add.node, add.rights);
                if (status == Names::Status::ok) ++m_report.registered;
                admin.emplace(MILK_TRY(std::move(result).send(Registry::Result{status})));
                return {};
            },
            [&](Registry::Deregister&& remove,
                Registry::Server<Registry::state::Admin_Deregister>&& result) -> milk::Result<void> {
                const Names::Status status = m_table.remove(remove.name);
                if (status == Names::Status::ok) ++m_report.deregistered;
                admin.emplace(MILK_TRY(std::move(result).send(Registry::Result{status})));
                return {};
            },
            [&](Registry::Lookup&& lookup, Registry::Server<Registry::state::Admin_Lookup>&& answer) -> milk::Result<void> {
                admin.emplace(MILK_TRY(answer_lookup(lookup.name, std::move(answer))));
                return {};
            },
            [](Registry::Bye&&) -> milk::Result<void> { return {}; },
            [&](milk::HungUp) -> milk::Result<void> {
                m_report.hung_up = true;
                return {};
            });
    }

    std::uint64_t m_secret;
    Table& m_table;
    SessionReport m_report;
};

// The component. Setting: `secret`, what a client's proof is XOR-ed with
// (default 0x5eed).
class Directory {
public:
    using Contract = Registry::Contract;
    static constexpr const char* name = "directory";
    static constexpr milk::PlacementSet placements = milk::every_placement;
    // A session's names live in its serve call: nothing to keep between.
    static constexpr milk::Statefulness statefulness = milk::Statefulness::Stateless;
    static constexpr milk::SettingNames setting_names{"secret"};

    [[nodiscard]] static milk::Result<Directory> try_create(const milk::Settings& settings) {
        const std::int64_t secret = settings.get_or("secret", static_cast<std::int64_t>(default_secret));
        if (secret < 0) return milk::Error{milk::ErrorCode::InvalidArgument, "directory: `secret` must be >= 0", secret};
        return Directory{static_cast<std::uint64_t>(secret)};
    }

    [[nodiscard]] milk::Result<void> serve(Registry::Server<Registry::state::Ready>&& server) {
        m_table = Table{};
        m_report = MILK_TRY(Session(m_secret, m_table).run(std::move(server), std::nullopt));
        return {};
    }

    // A session handed over in the middle, in Admin (an entry state).
    [[nodiscard]] milk::Result<void> serve_admin(Registry::Server<Registry::state::Admin>&& server) {
        m_table = Table{};
        m_report = MILK_TRY(Session(m_secret, m_table).run(std::nullopt, std::move(server)));
        return {};
    }

    // What the last session did.
    [[nodiscard]] const SessionReport& report() const { return m_report; }

private:
    explicit Directory(std::uint64_t secret) : m_secret(secret) {}

    std::uint64_t m_secret;
    Table m_table;
    SessionReport m_report;
};

static_assert(milk::Component<Directory>);

}  // namespace components::directory
