// WebDataset shards (.tar, .tar.gz/.tgz, .tar.zst) read with libarchive,
// streaming: nothing is unpacked to disk.
//
// Opening indexes every shard once, in order: member headers are read and
// member data skipped (a seek for plain .tar; compressed shards are
// decompressed once), except the small `cls` / `json` label members. The
// index holds, per sample, its key, the ordinal of its image member and its
// label; image bytes are never kept. OpenOptions::maxShards stops after the
// first shards (the inspector shows them while it indexes the rest).
// Consecutive members sharing a key (the
// member name up to the first dot of its base name) form one sample, as
// WebDataset groups them.
//
// Random access, plain .tar: libarchive's reader reports where each image
// member's data starts (the bytes its tar reader consumed up to it), so a
// read is one pread of that range, as cheap as reading a file of a folder.
// The offsets are trusted only after the shard's first image member, read
// both ways at indexing, gave the same bytes.
//
// Random access, compressed shards: a small pool of open readers
// ("cursors"), each positioned in one shard. A read takes the cursor of
// that shard standing at or before the wanted member and skips forward;
// otherwise it reopens the shard. An audit reads in order, so each worker
// thread's cursor only moves forward; a jump backwards in the GUI costs one
// header scan of that shard.
//
// Damage becomes DatasetIssues and the rest is read: a shard ending inside
// a member (truncated_shard), a key without an image member (missing_image),
// a key with two image members (ambiguous_sample: the first is used).
#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "core/common/fileio.h"
#include "core/dataset/dataset_internal.h"
#include "core/dataset/webdataset.h"

namespace bs {
namespace detail {

bool isShardName(const std::string& name) {
    const std::string n = lowerAscii(name);
    return endsWith(n, ".tar") || endsWith(n, ".tar.gz") || endsWith(n, ".tgz") ||
           endsWith(n, ".tar.zst");
}

namespace {

// "{000..099}" inside `pattern`: every expansion, zero padding kept.
bool expandBraces(const std::string& pattern, std::vector<std::string>& out) {
    const size_t open = pattern.find('{');
    if (open == std::string::npos) {
        out.push_back(pattern);
        return true;
    }
    const size_t close = pattern.find('}', open);
    const size_t dots = pattern.find("..", open);
    if (close == std::string::npos || dots == std::string::npos || dots > close) return false;
    const std::string a = pattern.substr(open + 1, dots - open - 1);
    const std::string b = pattern.substr(dots + 2, close - dots - 2);
    if (a.empty() || b.empty() || a.find_first_not_of("0123456789") != std::string::npos ||
        b.find_first_not_of("0123456789") != std::string::npos || a.size() > 9 || b.size() > 9)
        return false;
    const long lo = std::stol(a), hi = std::stol(b);
    if (hi < lo || hi - lo > 1000000) return false;
    const size_t width = a.size();
    for (long v = lo; v <= hi; ++v) {
        std::string num = std::to_string(v);
        if (num.size() < width) num.insert(0, width - num.size(), '0');
        if (!expandBraces(pattern.substr(0, open) + num + pattern.substr(close + 1), out))
            return false;
    }
    return true;
}

struct ShardSample {
    std::string key;
    uint32_t imageMember = 0;  // ordinal of the image member in its shard
    int32_t label = -1;
    int64_t dataOffset = -1;  // plain .tar: where the image bytes start
    int64_t dataSize = 0;
};

struct Shard {
    std::string path;
    std::vector<ShardSample> samples;
    bool direct = false;  // dataOffset/dataSize are verified: read with pread
};

// `size` bytes of `path` from `offset`; false when the file is shorter.
bool readRange(const std::string& path, int64_t offset, int64_t size, std::vector<uint8_t>& out) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    out.resize(size_t(size));
    size_t have = 0;
    while (have < out.size()) {
        const ssize_t n =
            ::pread(fd, out.data() + have, out.size() - have, off_t(offset + int64_t(have)));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        have += size_t(n);
    }
    ::close(fd);
    return have == out.size();
}

struct ArchiveCloser {
    void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveCloser>;

ArchivePtr openArchive(const std::string& path) {
    ArchivePtr a(archive_read_new());
    archive_read_support_filter_all(a.get());
    archive_read_support_format_tar(a.get());
    if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK)
        throw DecodeError(DecodeErrorKind::Unreadable,
                          path + ": cannot open shard (" + archive_error_string(a.get()) + ")");
    return a;
}

// The member's data, at most `cap` bytes (false when the shard breaks).
// Read straight into the buffer: the header gives the size.
bool readMember(archive* a, archive_entry* e, std::vector<uint8_t>& out, size_t cap) {
    const la_int64_t declared = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
    if (declared < 0 || size_t(declared) > cap) return false;
    out.resize(size_t(declared));
    size_t have = 0;
    while (have < out.size()) {
        const la_ssize_t n = archive_read_data(a, out.data() + have, out.size() - have);
        if (n <= 0) return false;  // ends before its declared size
        have += size_t(n);
    }
    // Normally nothing follows; a member without a declared size grows here.
    uint8_t more[1 << 14];
    for (la_ssize_t n; (n = archive_read_data(a, more, sizeof more)) != 0;) {
        if (n < 0 || out.size() + size_t(n) > cap) return false;
        out.insert(out.end(), more, more + n);
    }
    return true;
}

int32_t parseLabel(const std::string& suffix, const std::vector<uint8_t>& data) {
    const std::string text(data.begin(), data.end());
    try {
        if (suffix == "json") {
            const auto j = nlohmann::json::parse(text);
            if (j.is_object() && j.contains("label") && j["label"].is_number_integer())
                return int32_t(j["label"].get<int64_t>());
            return -1;
        }
        size_t used = 0;
        const long v = std::stol(text, &used);
        return v >= 0 && v < (1L << 30) ? int32_t(v) : -1;
    } catch (...) {
        return -1;
    }
}

std::string lowerSuffix(const std::string& base) {
    const size_t dot = base.find('.');
    return dot == std::string::npos ? std::string() : lowerAscii(base.substr(dot + 1));
}

std::string keyOf(const std::string& member) {
    const size_t slash = member.find_last_of('/');
    const size_t start = slash == std::string::npos ? 0 : slash + 1;
    const size_t dot = member.find('.', start);
    return member.substr(0, dot);
}

bool isImageSuffix(const std::string& suffix) {
    // The last extension decides (WebDataset's "seg.png" is still a png).
    const size_t dot = suffix.find_last_of('.');
    return hasImageExtension("x." + (dot == std::string::npos ? suffix : suffix.substr(dot + 1)));
}

// Collects the members of one key, then decides what the sample is.
class ShardIndexer {
public:
    ShardIndexer(Shard& shard, std::vector<DatasetIssue>& issues)
        : shard_(shard), issues_(issues) {}

    void member(const std::string& name, uint32_t ordinal, archive* a, archive_entry* e) {
        const std::string key = keyOf(name);
        if (key != current_.key || !open_) flush();
        open_ = true;
        current_.key = key;
        const std::string suffix = lowerSuffix(name.substr(name.find_last_of('/') + 1));
        if (isImageSuffix(suffix)) {
            images_.push_back(name);
            if (images_.size() == 1) {
                current_.imageMember = ordinal;
                noteDataRange(a, e);
            }
        } else if (suffix == "cls" || suffix == "cls.txt" || suffix == "json") {
            std::vector<uint8_t> data;
            if (readMember(a, e, data, 1 << 20)) {
                const int32_t l = parseLabel(suffix == "json" ? "json" : "cls", data);
                if (l >= 0) current_.label = l;
            }
        }
    }

    void flush() {
        if (!open_) return;
        const std::string id = shard_.path + ":" + current_.key;
        if (images_.empty()) {
            issues_.push_back(
                {"missing_image", id, "Shard sample '" + id + "' has no image member; skipped."});
        } else {
            if (images_.size() > 1)
                issues_.push_back({"ambiguous_sample", id,
                                   "Shard sample '" + id + "' has " +
                                       std::to_string(images_.size()) + " image members ('" +
                                       images_[0] + "', '" + images_[1] +
                                       "'); the first is used."});
            shard_.samples.push_back(current_);
        }
        open_ = false;
        images_.clear();
        current_ = ShardSample();
    }

    // Plain .tar only (no filter in between): the tar reader has consumed
    // exactly the headers, so what it consumed is where the data starts. The
    // shard's first image is read both ways to confirm it.
    void noteDataRange(archive* a, archive_entry* e) {
        if (!plain_ || !archive_entry_size_is_set(e) || archive_entry_sparse_count(e) > 0) return;
        current_.dataOffset = archive_filter_bytes(a, 0);
        current_.dataSize = archive_entry_size(e);
        if (verified_) return;
        verified_ = true;
        std::vector<uint8_t> viaArchive, viaOffset;
        shard_.direct = current_.dataSize <= kMaxImageFileBytes &&
                        readMember(a, e, viaArchive, size_t(kMaxImageFileBytes)) &&
                        readRange(shard_.path, current_.dataOffset, current_.dataSize, viaOffset) &&
                        viaArchive == viaOffset;
    }

    void setPlain(bool plain) { plain_ = plain; }

    // A truncated shard: the key being read is incomplete, so it is dropped.
    void abandon() {
        open_ = false;
        images_.clear();
        current_ = ShardSample();
    }

private:
    Shard& shard_;
    std::vector<DatasetIssue>& issues_;
    ShardSample current_;
    std::vector<std::string> images_;
    bool open_ = false;
    bool plain_ = false;     // no compression filter
    bool verified_ = false;  // the first image's offset was checked
};

void indexShard(Shard& shard, std::vector<DatasetIssue>& issues, const OpenOptions& options,
                size_t& listed) {
    ArchivePtr a;
    try {
        a = openArchive(shard.path);
    } catch (const std::exception& e) {
        issues.push_back({"unreadable_file", shard.path, e.what()});
        return;
    }
    ShardIndexer indexer(shard, issues);
    bool first = true;
    uint32_t ordinal = 0;
    std::string lastName;
    while (true) {
        archive_entry* e = nullptr;
        const int r = archive_read_next_header(a.get(), &e);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) {
            indexer.abandon();
            issues.push_back(
                {"truncated_shard", shard.path,
                 "Shard '" + shard.path + "' ends in the middle of a member" +
                     (lastName.empty() ? std::string() : " (last started: '" + lastName + "')") +
                     " (" + archive_error_string(a.get()) + "); the " +
                     std::to_string(shard.samples.size()) +
                     " complete sample(s) before it are read."});
            return;
        }
        if (first) {  // the filters are known once the first header is read
            first = false;
            indexer.setPlain(archive_filter_count(a.get()) == 1 &&
                             archive_filter_code(a.get(), 0) == ARCHIVE_FILTER_NONE);
        }
        const uint32_t mine = ordinal++;
        if (archive_entry_filetype(e) != AE_IFREG) continue;
        lastName = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
        indexer.member(lastName, mine, a.get(), e);
        if (++listed % 1000 == 0 && options.progress && !options.progress(listed))
            throw Error("cancelled");
    }
    indexer.flush();
}

std::vector<std::string> readClassNames(const std::string& dir) {
    std::vector<std::string> names;
    const std::string txt = dir + "/classes.txt", js = dir + "/classes.json";
    if (isRegularFile(txt)) {
        std::ifstream in(txt);
        for (std::string line; std::getline(in, line);) {
            while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
            if (!line.empty()) names.push_back(line);
        }
    } else if (isRegularFile(js)) {
        std::ifstream in(js);
        std::stringstream text;
        text << in.rdbuf();
        const auto j = parseUntrustedJson(text.str(), js);
        if (j.is_array()) {
            for (const auto& n : j)
                if (n.is_string()) names.push_back(n.get<std::string>());
        } else if (j.is_object()) {  // {"name": index}
            for (auto it = j.begin(); it != j.end(); ++it)
                if (it.value().is_number_integer() && it.value().get<int64_t>() >= 0 &&
                    it.value().get<int64_t>() < 1000000) {
                    const size_t i = size_t(it.value().get<int64_t>());
                    if (names.size() <= i) names.resize(i + 1);
                    names[i] = it.key();
                }
        }
    }
    return names;
}

// One open reader positioned after member `next - 1` of a shard.
struct Cursor {
    size_t shard = size_t(-1);
    uint32_t next = 0;
    ArchivePtr archive;
};

class WebDataset : public Dataset {
public:
    WebDataset(std::string root, std::vector<Shard> shards, std::vector<std::string> classes,
               std::vector<DatasetIssue> issues, DecodeOptions decode)
        : root_(std::move(root)),
          shards_(std::move(shards)),
          classes_(std::move(classes)),
          issues_(std::move(issues)),
          decode_(decode) {
        size_t total = 0;
        for (const auto& s : shards_) {
            firstOfShard_.push_back(total);
            total += s.samples.size();
        }
        size_ = total;
    }

    DatasetFormat format() const override { return DatasetFormat::WebDataset; }
    std::string root() const override { return root_; }
    size_t size() const override { return size_; }
    std::vector<std::string> classes() const override { return classes_; }
    std::string path(size_t i) const override {
        const auto [s, k] = locate(i);
        return shards_[s].path + ":" + shards_[s].samples[k].key;
    }
    int64_t label(size_t i) const override {
        const auto [s, k] = locate(i);
        return shards_[s].samples[k].label;
    }
    Image loadRaw(size_t i, DecodeInfo* info) const override {
        const auto [s, k] = locate(i);
        const std::vector<uint8_t> bytes = readImage(s, shards_[s].samples[k]);
        return decodeImageBuffer(bytes.data(), bytes.size(), path(i), decode_, info);
    }
    std::vector<DatasetIssue> issues() const override { return issues_; }

    size_t shardCount() const { return shards_.size(); }
    size_t directShardCount() const {
        return size_t(
            std::count_if(shards_.begin(), shards_.end(), [](const Shard& s) { return s.direct; }));
    }
    size_t shardOf(size_t i) const { return locate(i).first; }
    std::string shardPath(size_t s) const { return shards_[s].path; }

private:
    std::pair<size_t, size_t> locate(size_t i) const {
        if (i >= size_) throw Error("sample index " + std::to_string(i) + " out of range");
        const size_t s = size_t(std::upper_bound(firstOfShard_.begin(), firstOfShard_.end(), i) -
                                firstOfShard_.begin()) -
                         1;
        return {s, i - firstOfShard_[s]};
    }

    std::unique_ptr<Cursor> takeCursor(size_t shard, uint32_t member) const {
        std::lock_guard<std::mutex> lock(poolMutex_);
        auto best = pool_.end();
        for (auto it = pool_.begin(); it != pool_.end(); ++it)
            if ((*it)->shard == shard && (*it)->next <= member &&
                (best == pool_.end() || (*it)->next > (*best)->next))
                best = it;
        if (best == pool_.end()) return std::make_unique<Cursor>();
        std::unique_ptr<Cursor> c = std::move(*best);
        pool_.erase(best);
        return c;
    }

    void returnCursor(std::unique_ptr<Cursor> c) const {
        std::lock_guard<std::mutex> lock(poolMutex_);
        // Bounded: each reader holds libarchive's buffers (and a zstd window).
        constexpr size_t kMaxCursors = 32;
        if (pool_.size() >= kMaxCursors) pool_.erase(pool_.begin());
        pool_.push_back(std::move(c));
    }

    std::vector<uint8_t> readImage(size_t shard, const ShardSample& sample) const {
        const std::string& path = shards_[shard].path;
        if (shards_[shard].direct && sample.dataOffset >= 0) {
            std::vector<uint8_t> bytes;
            if (!readRange(path, sample.dataOffset, sample.dataSize, bytes))
                throw DecodeError(DecodeErrorKind::Unreadable,
                                  path + ": shard ends before member '" + sample.key + "' ends");
            return bytes;
        }
        const uint32_t member = sample.imageMember;
        std::unique_ptr<Cursor> c = takeCursor(shard, member);
        if (!c->archive || c->shard != shard || c->next > member) {
            c->archive = openArchive(path);
            c->shard = shard;
            c->next = 0;
        }
        archive_entry* e = nullptr;
        while (c->next <= member) {
            if (archive_read_next_header(c->archive.get(), &e) < ARCHIVE_WARN)
                throw DecodeError(DecodeErrorKind::Unreadable,
                                  path + ": shard ends before member " + std::to_string(member));
            ++c->next;
        }
        if (archive_entry_size(e) > kMaxImageFileBytes)
            throw DecodeError(DecodeErrorKind::Unreadable, path + ": member too large");
        std::vector<uint8_t> bytes;
        if (!readMember(c->archive.get(), e, bytes, size_t(kMaxImageFileBytes)))
            throw DecodeError(DecodeErrorKind::Unreadable,
                              path + ": member '" + archive_entry_pathname(e) +
                                  "' cannot be read (" + archive_error_string(c->archive.get()) +
                                  ")");
        returnCursor(std::move(c));
        return bytes;
    }

    std::string root_;
    std::vector<Shard> shards_;
    std::vector<size_t> firstOfShard_;
    size_t size_ = 0;
    std::vector<std::string> classes_;
    std::vector<DatasetIssue> issues_;
    DecodeOptions decode_;
    mutable std::mutex poolMutex_;
    mutable std::vector<std::unique_ptr<Cursor>> pool_;
};

std::vector<std::string> shardsInFolder(const std::string& dir) {
    std::vector<std::string> names;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return names;
    while (dirent* e = ::readdir(d))
        if (isShardName(e->d_name) && isRegularFile(dir + "/" + e->d_name))
            names.push_back(e->d_name);
    ::closedir(d);
    std::sort(names.begin(), names.end(), pyLess);
    for (auto& n : names) n = dir + "/" + n;
    return names;
}

}  // namespace

bool isBracePattern(const std::string& path) {
    const size_t open = path.find('{');
    return open != std::string::npos && path.find("..", open) != std::string::npos &&
           path.find('}', open) != std::string::npos;
}

bool isShardFolder(const std::string& dir) {
    return !shardsInFolder(dir).empty();
}

std::unique_ptr<Dataset> openWebDataset(const std::string& path, const OpenOptions& options) {
    std::vector<std::string> files;
    std::string root;
    if (isBracePattern(path)) {
        root = absolutePath(path);
        std::vector<std::string> expanded;
        if (!expandBraces(root, expanded))
            throw Error(
                path + ": brace pattern not understood (expected e.g. shard-{000000..000099}.tar)");
        files = expanded;
    } else if (isDirectory(path)) {
        root = absolutePath(path);
        files = shardsInFolder(root);
    } else {
        root = absolutePath(path);
        files = {root};
    }
    if (files.empty()) throw Error(path + ": no .tar shards found");
    if (options.maxShards && files.size() > options.maxShards) files.resize(options.maxShards);
    std::vector<Shard> shards;
    std::vector<DatasetIssue> issues;
    size_t listed = 0;
    for (const auto& f : files) {
        if (!isRegularFile(f)) {
            issues.push_back({"unreadable_file", f, "Shard '" + f + "' does not exist; skipped."});
            continue;
        }
        shards.push_back({f, {}});
        indexShard(shards.back(), issues, options, listed);
    }
    if (shards.empty())
        throw Error(path + ": none of the " + std::to_string(files.size()) + " shards exists");
    const std::string dir = isDirectory(root) ? root : dirName(shards.front().path);
    return std::make_unique<WebDataset>(root, std::move(shards), readClassNames(dir),
                                        std::move(issues), options.decode);
}

}  // namespace detail

size_t webDatasetShardOf(const Dataset& dataset, size_t index, size_t* shardCount) {
    const auto* w = dynamic_cast<const detail::WebDataset*>(&dataset);
    if (!w) return size_t(-1);
    if (shardCount) *shardCount = w->shardCount();
    return w->shardOf(index);
}

size_t webDatasetShardFileCount(const std::string& path) {
    if (detail::isBracePattern(path)) {
        std::vector<std::string> expanded;
        return detail::expandBraces(detail::absolutePath(path), expanded) ? expanded.size() : 0;
    }
    if (detail::isDirectory(path)) return detail::shardsInFolder(detail::absolutePath(path)).size();
    return detail::isShardName(detail::baseName(path)) ? 1 : 0;
}

size_t webDatasetDirectShards(const Dataset& dataset) {
    const auto* w = dynamic_cast<const detail::WebDataset*>(&dataset);
    return w ? w->directShardCount() : 0;
}

std::string webDatasetShardPath(const Dataset& dataset, size_t shard) {
    const auto* w = dynamic_cast<const detail::WebDataset*>(&dataset);
    return w && shard < w->shardCount() ? w->shardPath(shard) : std::string();
}

}  // namespace bs
