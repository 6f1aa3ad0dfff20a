// The findings vocabulary: every kind of finding batchscope can report, with
// its severity and the place it is usually blamed on, declared once here.
//
// The audit engine, compare, merge, the CLI and the GUI all name findings by
// these kinds; ui translates them and never invents its own. A new kind is
// added to the table in findings.cpp and nowhere else.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace bs {

// Ordered so that a larger value is worse (sorting, --fail-on thresholds).
enum class Severity { Info = 0, Warning = 1, Error = 2 };
std::string severityName(Severity s);             // "info", "warning", "error"
Severity parseSeverity(const std::string& name);  // throws Error

// Where a finding is blamed when nothing more precise is known. Transform
// findings name the pipeline stage itself ("4:Normalize", numbered from 1).
enum class Blame { File, Decode, Dataset, Transform, Collate, Loader, Target };
const char* blameName(Blame b);  // "file", "decode", "dataset", ...

struct FindingKind {
    const char* name;  // snake_case, stable: reports and scripts read it
    Severity severity;
    Blame blame;
    const char* summary;  // one line for help text and tooltips
};

// Every kind, in the order findings of one severity are listed.
const std::vector<FindingKind>& findingKinds();
// Null when `name` is not a declared kind.
const FindingKind* findingKind(std::string_view name);
// Severity of a declared kind; Warning for an unknown one (reports written by
// a newer batchscope may name kinds this one does not know).
Severity severityOf(std::string_view kind);
// Position in findingKinds(); unknown kinds sort last.
size_t kindOrder(std::string_view kind);

}  // namespace bs
