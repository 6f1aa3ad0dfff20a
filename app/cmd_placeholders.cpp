// TEMPORARY scaffolding while the subcommands are written in parallel; each
// function moves to its own cmd_<name>.cpp and is deleted from here.
#include "cli.h"

namespace bs::cli {
}  // namespace bs::cli
