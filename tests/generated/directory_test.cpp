// A directory service (contracts/directory.contract) that uses every
// convenience of the contract language's second round at once: sequences,
// extension, hanging up, a sub-protocol, an entry state and flags. The same
// registrar serves in this process and in a forked one (the process
// transport), and a plain Directory client talks to it too: an extension
// keeps its base's tags and states, so the base's conversations are the
// extension's on the wire.
#include "directory.hpp"

#include <milk/process.hpp>

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <thread>

namespace {

using namespace demo::directory;
namespace reg = demo::directory::Registry;
namespace dir = demo::directory::Directory;

constexpr std::uint64_t secret = 0x5eed;
constexpr std::uint64_t nonce = 0x1234;

struct Node {
    std::uint64_t node = 0;
    Rights rights{};
};

// What the registrar did, for the checks (and its child's exit status).
struct Served {
    int registered = 0;
    int lookups = 0;
    int refused_logins = 0;
    bool hung_up = false;
    bool said_bye = false;
};

class Registrar {
public:
    explicit Registrar(std::map<std::uint64_t, Node> names = {}) : m_names(std::move(names)) {}

    Served serve(reg::Server<reg::state::Ready> ready) {
        std::optional<reg::Server<reg::state::Ready>> in_ready{std::move(ready)};
        std::optional<reg::Server<reg::state::Admin>> in_admin;
        return loop(in_ready, in_admin);
    }

    // A session handed over in the middle: it starts in Admin (an entry state).
    Served serve_admin(reg::Server<reg::state::Admin> admin) {
        std::optional<reg::Server<reg::state::Ready>> in_ready;
        std::optional<reg::Server<reg::state::Admin>> in_admin{std::move(admin)};
        return loop(in_ready, in_admin);
    }

private:
    template <typename Answer>
    auto answer_lookup(std::uint64_t name, Answer&& answer) {
        ++m_served.lookups;
        auto found = m_names.find(name);
        if (found == m_names.end()) return std::move(answer).send(reg::Missing{Status::not_found}).value();
        return std::move(answer).send(reg::Found{found->second.node, found->second.rights}).value();
    }

    Served loop(std::optional<reg::Server<reg::state::Ready>>& in_ready,
                std::optional<reg::Server<reg::state::Admin>>& in_admin) {
        while (in_ready || in_admin) {
            if (in_ready) {
                reg::Server<reg::state::Ready> current = std::move(*in_ready);
                in_ready.reset();
                auto step = std::move(current).receive(
                    [&](reg::Lookup&& lookup, reg::Server<reg::state::Ready_Lookup>&& answer) {
                        in_ready.emplace(answer_lookup(lookup.name, std::move(answer)));
                    },
                    [&](reg::Login&&, reg::Server<reg::state::Ready_Login_Ask>&& ask) {
                        auto answer = std::move(ask).send(reg::Challenge{nonce}).value();
                        REQUIRE(std::move(answer)
                                    .receive([&](reg::Proof&& proof, reg::Server<reg::state::Ready_Login_Answer_Proof>&& decide) {
                                        if (proof.value == (nonce ^ secret)) {
                                            in_admin.emplace(std::move(decide).send(reg::Granted{Rights::read | Rights::write | Rights::admin}).value());
                                        } else {
                                            ++m_served.refused_logins;
                                            in_ready.emplace(std::move(decide).send(reg::Refused{Status::denied}).value());
                                        }
                                    })
                                    .ok());
                    },
                    [&](reg::Bye&&) { m_served.said_bye = true; }, [&](milk::HungUp) { m_served.hung_up = true; });
                REQUIRE(step.ok());
            } else {
                reg::Server<reg::state::Admin> current = std::move(*in_admin);
                in_admin.reset();
                auto step = std::move(current).receive(
                    [&](reg::Register&& add, reg::Server<reg::state::Admin_Register>&& result) {
                        const bool fresh = m_names.emplace(add.name, Node{add.node, add.rights}).second;
                        if (fresh) ++m_served.registered;
                        in_admin.emplace(std::move(result).send(reg::Result{fresh ? Status::ok : Status::exists}).value());
                    },
                    [&](reg::Deregister&& remove, reg::Server<reg::state::Admin_Deregister>&& result) {
                        const bool found = m_names.erase(remove.name) == 1;
                        in_admin.emplace(std::move(result).send(reg::Result{found ? Status::ok : Status::not_found}).value());
                    },
                    [&](reg::Lookup&& lookup, reg::Server<reg::state::Admin_Lookup>&& answer) {
                        in_admin.emplace(answer_lookup(lookup.name, std::move(answer)));
                    },
                    [&](reg::Bye&&) { m_served.said_bye = true; }, [&](milk::HungUp) { m_served.hung_up = true; });
                REQUIRE(step.ok());
            }
        }
        return m_served;
    }

    std::map<std::uint64_t, Node> m_names;
    Served m_served;
};

// The messages of a lookup in either contract (each has its own C++ types,
// with the same tags on the wire).
struct RegistryLookup {
    using Lookup = reg::Lookup;
    using Found = reg::Found;
    using Missing = reg::Missing;
};
struct DirectoryLookup {
    using Lookup = dir::Lookup;
    using Found = dir::Found;
    using Missing = dir::Missing;
};

// A lookup from any state that has one; the answer, and the next endpoint.
template <typename Messages, typename Next, typename Asking>
std::optional<Node> look_up(Asking&& asking, std::uint64_t name, std::optional<Next>& next) {
    std::optional<Node> node;
    auto answer = std::move(asking).send(typename Messages::Lookup{name}).value();
    REQUIRE(std::move(answer)
                .receive([&](typename Messages::Found&& found, Next&& after) {
                    node = Node{found.node, found.rights};
                    next.emplace(std::move(after));
                },
                [&](typename Messages::Missing&& missing, Next&& after) {
                    CHECK(missing.status == Status::not_found);
                    next.emplace(std::move(after));
                })
                .ok());
    return node;
}

reg::Client<reg::state::Admin> check_result(reg::Client<reg::state::Admin_Register>&& waiting, Status expected) {
    std::optional<reg::Client<reg::state::Admin>> admin;
    REQUIRE(std::move(waiting)
                .receive([&](reg::Result&& result, reg::Client<reg::state::Admin>&& next) {
                    CHECK(result.status == expected);
                    admin.emplace(std::move(next));
                })
                .ok());
    return std::move(*admin);
}

// The administrator's session: a wrong proof, then the right one; two names
// registered (one twice), looked up, one deregistered; then a hang-up.
void administer(reg::Client<reg::state::Ready> ready) {
    auto ask = std::move(ready).send(reg::Login{1}).value();
    std::optional<reg::Client<reg::state::Ready>> refused;
    REQUIRE(std::move(ask)
                .receive([&](reg::Challenge&& challenge, reg::Client<reg::state::Ready_Login_Answer>&& answer) {
                    auto proof = std::move(answer).send(reg::Proof{challenge.nonce}).value();
                    REQUIRE(std::move(proof)
                                .receive([&](reg::Granted&&, reg::Client<reg::state::Admin>&& admin) {
                                    static_cast<void>(std::move(admin).close());
                                    FAIL("a wrong proof was granted");
                                },
                                [&](reg::Refused&& no, reg::Client<reg::state::Ready>&& next) {
                                    CHECK(no.status == Status::denied);
                                    refused.emplace(std::move(next));
                                })
                                .ok());
                })
                .ok());
    std::optional<reg::Client<reg::state::Admin>> admin;
    ask = std::move(*refused).send(reg::Login{1}).value();
    REQUIRE(std::move(ask)
                .receive([&](reg::Challenge&& challenge, reg::Client<reg::state::Ready_Login_Answer>&& answer) {
                    auto proof = std::move(answer).send(reg::Proof{challenge.nonce ^ secret}).value();
                    REQUIRE(std::move(proof)
                                .receive([&](reg::Granted&& granted, reg::Client<reg::state::Admin>&& next) {
                                    CHECK(granted.rights == (Rights::read | Rights::write | Rights::admin));
                                    admin.emplace(std::move(next));
                                },
                                [&](reg::Refused&&, reg::Client<reg::state::Ready>&& next) {
                                    static_cast<void>(std::move(next).close());
                                    FAIL("the right proof was refused");
                                })
                                .ok());
                })
                .ok());
    reg::Client<reg::state::Admin> session = std::move(*admin);
    session = check_result(std::move(session).send(reg::Register{10, 100, Rights::read}).value(), Status::ok);
    session = check_result(std::move(session).send(reg::Register{20, 200, Rights::read | Rights::write}).value(),
                           Status::ok);
    session = check_result(std::move(session).send(reg::Register{10, 999, Rights::admin}).value(), Status::exists);
    std::optional<reg::Client<reg::state::Admin>> next;
    std::optional<Node> twenty = look_up<RegistryLookup>(std::move(session), 20, next);
    REQUIRE(twenty.has_value());
    CHECK(twenty->node == 200);
    CHECK(twenty->rights == (Rights::read | Rights::write));
    auto removed = std::move(*next).send(reg::Deregister{10}).value();
    std::optional<reg::Client<reg::state::Admin>> after;
    REQUIRE(std::move(removed)
                .receive([&](reg::Result&& result, reg::Client<reg::state::Admin>&& admin_again) {
                    CHECK(result.status == Status::ok);
                    after.emplace(std::move(admin_again));
                })
                .ok());
    next.reset();
    CHECK_FALSE(look_up<RegistryLookup>(std::move(*after), 10, next).has_value());
    REQUIRE(std::move(*next).close().ok());
}

}  // namespace

TEST_CASE("directory: a registrar in this process, administered through Auth, hung up on at the end") {
    auto [client, server] = reg::open_inproc().value();
    Served served;
    std::thread serving([&, endpoint = std::move(server)]() mutable { served = Registrar().serve(std::move(endpoint)); });
    administer(std::move(client));
    serving.join();
    CHECK(served.registered == 2);
    CHECK(served.lookups == 2);
    CHECK(served.refused_logins == 1);
    CHECK(served.hung_up);
}

TEST_CASE("directory: the same registrar in a forked process, over the process transport") {
    auto pending = milk::process::create_channel();
    REQUIRE(pending.ok());
    const pid_t parent = ::getpid();
    std::fflush(nullptr);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        auto end = milk::process::attach_inherited(pending.value().fd(), parent);
        if (!end.ok()) std::_Exit(100);
        const Served served = Registrar().serve(reg::server(std::move(end).value()));
        // Exit status: what the parent checks.
        std::_Exit(served.registered * 16 + served.lookups * 4 + served.refused_logins * 2 + (served.hung_up ? 1 : 0));
    }
    auto end = milk::process::bind_child(std::move(pending).value(), child);
    REQUIRE(end.ok());
    administer(reg::client(std::move(end).value()));
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 2 * 16 + 2 * 4 + 1 * 2 + 1);
}

TEST_CASE("directory: an administrator's session handed over in the middle starts in Admin") {
    auto [client, server] = reg::open_inproc_at<reg::state::Admin>().value();
    Registrar registrar({{7, Node{70, Rights::read}}});
    // The registrar's own loop, entered in Admin as the client is.
    Served served;
    std::thread serving([&, endpoint = std::move(server)]() mutable { served = registrar.serve_admin(std::move(endpoint)); });
    std::optional<reg::Client<reg::state::Admin>> next;
    std::optional<Node> seven = look_up<RegistryLookup>(std::move(client), 7, next);
    REQUIRE(seven.has_value());
    CHECK(seven->node == 70);
    REQUIRE(std::move(*next).send(reg::Bye{}).ok());
    serving.join();
    CHECK(served.lookups == 1);
    CHECK(served.said_bye);
}

TEST_CASE("directory: a plain Directory client talks to the Registry's server, as its extension promises") {
    auto pair = milk::inproc::open_channel().value();
    dir::Client<dir::state::Ready> client = dir::client(std::move(pair.first));
    reg::Server<reg::state::Ready> server = reg::server(std::move(pair.second));
    Served served;
    std::thread serving([&, endpoint = std::move(server)]() mutable {
        served = Registrar({{5, Node{50, Rights::read | Rights::admin}}}).serve(std::move(endpoint));
    });
    std::optional<dir::Client<dir::state::Ready>> next;
    std::optional<Node> five = look_up<DirectoryLookup>(std::move(client), 5, next);
    REQUIRE(five.has_value());
    CHECK(five->node == 50);
    CHECK(five->rights == (Rights::read | Rights::admin));
    std::optional<dir::Client<dir::state::Ready>> again;
    CHECK_FALSE(look_up<DirectoryLookup>(std::move(*next), 6, again).has_value());
    REQUIRE(std::move(*again).send(dir::Bye{}).ok());
    serving.join();
    CHECK(served.lookups == 2);
    CHECK(served.said_bye);
}
