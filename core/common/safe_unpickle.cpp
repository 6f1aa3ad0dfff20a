#include "core/common/safe_unpickle.h"

#include <c10/util/Exception.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "core/common/types.h"

namespace bs {

namespace {

enum class Probe { Survived, Died, Unknown };

// The child only unpickles and leaves with _exit (no destructors, no atexit
// handlers of the parent's libraries). A child that hangs, e.g. on a lock a
// parent thread held at fork time, is killed after `limit` and the probe
// counts as inconclusive.
Probe probeOnce(const std::vector<char>& data, std::chrono::seconds limit) {
    const pid_t pid = ::fork();
    if (pid < 0) return Probe::Unknown;
    if (pid == 0) {
        // Keep glibc's abort message of a crashing probe off the user's terminal.
        const int devnull = ::open("/dev/null", O_WRONLY);
        if (devnull >= 0) ::dup2(devnull, 2);
        try {
            (void)torch::jit::pickle_load(data);
        } catch (...) {
        }
        ::_exit(0);
    }
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Probe::Survived;
            return Probe::Died;
        }
        if (r < 0 && errno != EINTR) return Probe::Unknown;
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            return Probe::Unknown;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

// A child forked while another thread of ours held a lock (the unpickler's
// or libtorch's, in a viewer that reads one batch while computing another)
// never gets it: it is killed and forked again at another moment, with a
// longer limit each time, so that a slow large file still gets 20 s. Only a
// probe that survived proves the file safe: after three inconclusive ones
// the file is refused, never unpickled in the parent.
Probe probeInChild(const std::vector<char>& data) {
    Probe last = Probe::Unknown;
    for (const int seconds : {5, 10, 20}) {
        last = probeOnce(data, std::chrono::seconds(seconds));
        if (last != Probe::Unknown) return last;
    }
    return last;
}

std::string firstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

c10::IValue safePickleLoad(const std::vector<char>& data, const std::string& path) {
    switch (probeInChild(data)) {
        case Probe::Survived: break;
        case Probe::Died:
            throw Error(path + ": corrupt torch.save data (libtorch's unpickler crashed on it in a "
                               "sandboxed probe; the file was not loaded)");
        case Probe::Unknown:
            throw Error(path + ": could not be checked (the sandboxed unpickling probe did not "
                               "finish); the file was not loaded");
    }
    try {
        return torch::jit::pickle_load(data);
    } catch (const c10::Error& e) {
        throw Error(path + ": cannot be unpickled by libtorch (" +
                    firstLine(e.what_without_backtrace()) + ")");
    } catch (const std::exception& e) {
        throw Error(path + ": cannot be unpickled by libtorch (" + firstLine(e.what()) + ")");
    }
}

}  // namespace bs
