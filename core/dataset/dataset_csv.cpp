// CSV manifests: `path,label` rows (RFC 4180 quoting), optional header,
// paths relative to the CSV's folder, labels integers or class names.
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "core/common/fileio.h"
#include "core/dataset/dataset_internal.h"

namespace bs::detail {

namespace {

struct Record {
    size_t line = 0;
    std::vector<std::string> fields;
};

[[noreturn]] void failLine(const std::string& file, size_t line, const std::string& what) {
    throw Error(file + ":" + std::to_string(line) + ": " + what);
}

std::vector<Record> parseCsv(const std::string& text, const std::string& file) {
    std::vector<Record> out;
    size_t i = 0, line = 1;
    if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;  // UTF-8 BOM (Excel)
    const size_t n = text.size();
    while (i < n) {
        Record r;
        r.line = line;
        std::string field;
        bool done = false;
        while (!done) {
            if (i < n && text[i] == '"') {
                const size_t openLine = line;
                ++i;
                while (true) {
                    if (i >= n) failLine(file, openLine, "unterminated quoted field");
                    if (text[i] == '"') {
                        if (i + 1 < n && text[i + 1] == '"') {
                            field.push_back('"');
                            i += 2;
                            continue;
                        }
                        ++i;
                        break;
                    }
                    if (text[i] == '\n') ++line;
                    field.push_back(text[i++]);
                }
                if (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
                    failLine(file, line, "unexpected character after a closing quote");
            } else {
                while (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
                    if (text[i] == '"') failLine(file, line, "stray quote inside an unquoted field");
                    if (text[i] == '\0') failLine(file, line, "binary data (NUL byte): not a text CSV file");
                    field.push_back(text[i++]);
                }
            }
            r.fields.push_back(std::move(field));
            field.clear();
            if (i < n && text[i] == ',') {
                ++i;
                continue;
            }
            if (i < n && text[i] == '\r') ++i;
            if (i < n && text[i] == '\n') {
                ++i;
                ++line;
            }
            done = true;
        }
        const bool blank = r.fields.size() == 1 && r.fields[0].find_first_not_of(" \t") == std::string::npos;
        if (!blank) out.push_back(std::move(r));
    }
    return out;
}

std::string trim(const std::string& s) {
    const size_t a = s.find_first_not_of(" \t");
    if (a == std::string::npos) return {};
    const size_t b = s.find_last_not_of(" \t");
    return s.substr(a, b - a + 1);
}

bool parseInt(const std::string& s, int64_t& v) {
    if (s.empty()) return false;
    size_t i = s[0] == '-' || s[0] == '+' ? 1 : 0;
    if (i == s.size() || s.size() > 19) return false;
    int64_t x = 0;
    for (; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        x = x * 10 + (s[i] - '0');
    }
    v = s[0] == '-' ? -x : x;
    return true;
}

bool isHeaderWord(const std::string& s, std::initializer_list<const char*> words) {
    const std::string l = lowerAscii(trim(s));
    for (const char* w : words)
        if (l == w) return true;
    return false;
}

const std::initializer_list<const char*> kPathWords = {"path", "file", "filename", "filepath", "file_path",
                                                       "image", "img", "image_path", "imagepath", "image_id",
                                                       "fname", "name", "id"};
const std::initializer_list<const char*> kLabelWords = {"label", "labels", "target", "targets", "class",
                                                        "class_name", "classname", "y", "category", "class_id"};

}  // namespace

class CsvDataset : public Dataset {
public:
    std::string file;
    std::vector<std::string> paths;
    std::vector<int64_t> labels;
    std::vector<std::string> classNames;
    std::vector<DatasetIssue> problems;
    DecodeOptions decode;

    DatasetFormat format() const override { return DatasetFormat::Csv; }
    std::string root() const override { return file; }
    size_t size() const override { return paths.size(); }
    std::vector<std::string> classes() const override { return classNames; }
    std::string path(size_t i) const override {
        if (i >= paths.size()) throw Error(file + ": sample index " + std::to_string(i) + " out of range");
        return paths[i];
    }
    int64_t label(size_t i) const override { return i < labels.size() ? labels[i] : -1; }
    Image loadRaw(size_t i, DecodeInfo* info) const override {
        if (i >= paths.size())
            throw DecodeError(DecodeErrorKind::Unreadable, file + ": sample index " + std::to_string(i) + " out of range");
        return decodeImageFile(paths[i], decode, info);
    }
    std::vector<DatasetIssue> issues() const override { return problems; }
};

namespace {

// Which column holds paths and which labels, and the first data row: a
// header row is recognised by its words (or by a first field that is
// neither an image path nor followed by an integer label).
struct CsvColumns {
    size_t path = 0, label = size_t(-1), firstRow = 0;
};

CsvColumns detectColumns(const Record& head,
                         const std::function<std::string(const std::string&)>& resolve) {
    const auto& f = head.fields;
    const size_t ncols = f.size();
    CsvColumns cols;
    cols.label = ncols >= 2 ? 1 : size_t(-1);
    const std::string p = trim(f[0]);
    int64_t dummy;
    const bool labelIsInt = ncols >= 2 && parseInt(trim(f[1]), dummy);
    const bool looksHeader = isHeaderWord(p, kPathWords) ||
                             (ncols >= 2 && isHeaderWord(f[1], kLabelWords)) ||
                             !hasImageExtension(p);
    if (labelIsInt || isRegularFile(resolve(p)) || !looksHeader) return cols;
    cols.firstRow = 1;
    for (size_t c = 0; c < ncols; ++c)
        if (isHeaderWord(f[c], kPathWords)) {
            cols.path = c;
            break;
        }
    for (size_t c = 0; c < ncols; ++c)
        if (c != cols.path && isHeaderWord(f[c], kLabelWords)) {
            cols.label = c;
            break;
        }
    if (cols.label == cols.path) cols.label = ncols >= 2 ? (cols.path == 0 ? 1 : 0) : size_t(-1);
    return cols;
}

// Labels from their text: integers as they are, else class names indexed
// in the order torchvision sorts folder names. Empty text stays -1.
void assignLabels(CsvDataset& ds, const std::vector<std::string>& rawLabels, bool allInt) {
    ds.labels.assign(rawLabels.size(), -1);
    if (allInt) {
        for (size_t i = 0; i < rawLabels.size(); ++i)
            if (!rawLabels[i].empty()) parseInt(rawLabels[i], ds.labels[i]);
        return;
    }
    std::vector<std::string> names;
    for (const auto& l : rawLabels)
        if (!l.empty()) names.push_back(l);
    std::sort(names.begin(), names.end(),
              [](const std::string& a, const std::string& b) { return pyLess(a, b); });
    names.erase(std::unique(names.begin(), names.end()), names.end());
    std::map<std::string, int64_t> idx;
    for (size_t i = 0; i < names.size(); ++i) idx[names[i]] = int64_t(i);
    for (size_t i = 0; i < rawLabels.size(); ++i)
        if (!rawLabels[i].empty()) ds.labels[i] = idx[rawLabels[i]];
    ds.classNames = std::move(names);
}

std::vector<Record> readCsvRows(const std::string& file) {
    regularFileSize(file);
    std::ifstream in(file, std::ios::binary);
    if (!in) throw Error(file + ": cannot open (" + std::strerror(errno) + ")");
    std::ostringstream ss;
    ss << in.rdbuf();
    std::vector<Record> rows = parseCsv(ss.str(), file);
    if (rows.empty()) throw Error(file + ": the CSV manifest has no rows");
    return rows;
}

}  // namespace

std::unique_ptr<Dataset> openCsv(const std::string& file, const OpenOptions& options) {
    const std::vector<Record> rows = readCsvRows(file);
    const std::string dir = dirName(file);
    const std::function<std::string(const std::string&)> resolve = [&](const std::string& p) {
        return !p.empty() && p[0] == '/' ? p : dir + "/" + p;
    };
    const size_t ncols = rows[0].fields.size();
    const CsvColumns cols = detectColumns(rows[0], resolve);

    auto ds = std::make_unique<CsvDataset>();
    ds->file = file;
    ds->decode = options.decode;
    std::vector<std::string> rawLabels;
    bool allInt = true;
    size_t missing = 0;
    for (size_t r = cols.firstRow; r < rows.size(); ++r) {
        const Record& rec = rows[r];
        if (rec.fields.size() != ncols)
            failLine(file, rec.line,
                     "expected " + std::to_string(ncols) + " fields, found " + std::to_string(rec.fields.size()));
        const std::string p = trim(rec.fields[cols.path]);
        if (p.empty()) failLine(file, rec.line, "empty path");
        const std::string full = resolve(p);
        if (!isRegularFile(full) && ++missing <= 20)
            ds->problems.push_back({"unreadable_file", full, "'" + full + "' listed in the CSV does not exist."});
        ds->paths.push_back(full);
        std::string l = cols.label == size_t(-1) ? std::string() : trim(rec.fields[cols.label]);
        int64_t v;
        if (!l.empty() && !parseInt(l, v)) allInt = false;
        if (!l.empty() && parseInt(l, v) && v < 0 && v != -1)
            failLine(file, rec.line, "negative label " + l);
        rawLabels.push_back(std::move(l));
        if (options.progress && ds->paths.size() % 1000 == 0 && !options.progress(ds->paths.size()))
            throw Error("cancelled");
    }
    if (missing > 20)
        ds->problems.push_back({"unreadable_file", file,
                                std::to_string(missing - 20) + " more missing files not listed individually (" +
                                    std::to_string(missing) + " in total)."});
    if (ds->paths.empty()) throw Error(file + ": the CSV manifest has a header but no rows");
    assignLabels(*ds, rawLabels, allInt);
    return ds;
}

}  // namespace bs::detail
