// openDataset (format detection), ImageFolder and flat folders.
//
// ImageFolder reproduces torchvision 0.14's find_classes + make_dataset so
// that index i here is ImageFolder(root)[i]: classes are the sorted names of
// root's sub-directories (links followed), samples are, class by class,
// `sorted(os.walk(class_dir, followlinks=True))` then `sorted(fnames)`,
// filtered by extension. Python sorts str by code point; names are decoded
// with surrogateescape, so the sort key below re-encodes that code-point
// sequence (generalised UTF-8 keeps code-point order under byte compare).
// Where torchvision would raise (empty class) or hang (symlink loop) we
// record a DatasetIssue and go on.
#include "core/dataset/dataset.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "core/dataset/dataset_internal.h"
#include "core/dataset/target_datasets.h"
#include "core/dataset/torchvision_datasets.h"
#include "core/dataset/webdataset.h"

namespace bs {

std::string formatName(DatasetFormat f) {
    switch (f) {
        case DatasetFormat::ImageFolder: return "imagefolder";
        case DatasetFormat::FlatFolder: return "folder";
        case DatasetFormat::Idx: return "idx";
        case DatasetFormat::Csv: return "csv";
        case DatasetFormat::Numpy: return "numpy";
        case DatasetFormat::TensorDump: return "pt";
        case DatasetFormat::WebDataset:
            return "webdataset";
        case DatasetFormat::Voc:
            return "voc";
        case DatasetFormat::Coco:
            return "coco";
        case DatasetFormat::Yolo:
            return "yolo";
        case DatasetFormat::MaskPairs:
            return "maskpairs";
    }
    return "unknown";
}

namespace detail {

std::string lowerAscii(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return s;
}

bool endsWith(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string absolutePath(const std::string& path) {
    std::string p = path;
    if (p.empty() || p[0] != '/') {
        std::string cwd;
        std::vector<char> buf(4096);
        while (!getcwd(buf.data(), buf.size())) {
            if (errno != ERANGE) break;
            buf.resize(buf.size() * 2);
        }
        cwd = buf.data();
        p = cwd + "/" + p;
    }
    // Lexical normalisation as posixpath.normpath does.
    std::vector<std::string> parts;
    size_t i = 0;
    while (i <= p.size()) {
        size_t j = p.find('/', i);
        if (j == std::string::npos) j = p.size();
        std::string part = p.substr(i, j - i);
        if (part.empty() || part == ".") {
        } else if (part == "..") {
            if (!parts.empty()) parts.pop_back();
        } else {
            parts.push_back(part);
        }
        i = j + 1;
    }
    std::string out;
    for (const auto& part : parts) out += "/" + part;
    return out.empty() ? "/" : out;
}

std::string baseName(const std::string& path) {
    size_t s = path.find_last_of('/');
    return s == std::string::npos ? path : path.substr(s + 1);
}

std::string dirName(const std::string& path) {
    size_t s = path.find_last_of('/');
    if (s == std::string::npos) return ".";
    if (s == 0) return "/";
    return path.substr(0, s);
}

bool isRegularFile(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool isDirectory(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

namespace {

// Length of the valid UTF-8 sequence at s[i] as Python's strict decoder
// accepts it, or 0 when the byte would be escaped.
size_t validUtf8At(const unsigned char* s, size_t n, size_t i) {
    const unsigned char c = s[i];
    if (c < 0x80) return 1;
    auto cont = [&](size_t k, unsigned char lo, unsigned char hi) {
        return i + k < n && s[i + k] >= lo && s[i + k] <= hi;
    };
    if (c >= 0xC2 && c <= 0xDF) return cont(1, 0x80, 0xBF) ? 2 : 0;
    if (c == 0xE0) return cont(1, 0xA0, 0xBF) && cont(2, 0x80, 0xBF) ? 3 : 0;
    if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
        return cont(1, 0x80, 0xBF) && cont(2, 0x80, 0xBF) ? 3 : 0;
    if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2, 0x80, 0xBF) ? 3 : 0;
    if (c == 0xF0) return cont(1, 0x90, 0xBF) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
    if (c >= 0xF1 && c <= 0xF3)
        return cont(1, 0x80, 0xBF) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
    if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
    return 0;
}

}  // namespace

// Byte string whose byte order equals Python's order of the surrogateescape
// decoded name. Identical to the input for valid UTF-8 (the common case).
std::string pyKey(const std::string& s) {
    const auto* u = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        size_t len = validUtf8At(u, n, i);
        if (!len) break;
        i += len;
    }
    if (i == n) return s;
    std::string key(s, 0, i);
    while (i < n) {
        size_t len = validUtf8At(u, n, i);
        if (len) {
            key.append(s, i, len);
            i += len;
        } else {
            // U+DC80..U+DCFF encoded as (generalised) 3-byte UTF-8.
            const unsigned cp = 0xDC00u + u[i];
            key.push_back(char(0xE0 | (cp >> 12)));
            key.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
            key.push_back(char(0x80 | (cp & 0x3F)));
            ++i;
        }
    }
    return key;
}

bool pyLess(const std::string& a, const std::string& b) { return pyKey(a) < pyKey(b); }

}  // namespace detail

namespace {

using namespace detail;

constexpr size_t kMaxListedIssues = 20;

struct Entry {
    std::string key;
    std::string name;
};

void sortByPyOrder(std::vector<std::string>& names) {
    std::vector<Entry> e;
    e.reserve(names.size());
    for (auto& n : names) e.push_back({pyKey(n), std::move(n)});
    std::sort(e.begin(), e.end(), [](const Entry& a, const Entry& b) { return a.key < b.key; });
    for (size_t i = 0; i < e.size(); ++i) names[i] = std::move(e[i].name);
}

// Collects issues, keeping per-kind lists bounded (a folder of 100,000 text
// files must not become 100,000 findings).
class IssueLog {
public:
    void add(const std::string& kind, const std::string& path, const std::string& message) {
        size_t& n = counts_[kind];
        ++n;
        if (n <= kMaxListedIssues) issues_.push_back({kind, path, message});
    }
    std::vector<DatasetIssue> finish(const std::string& root) {
        std::vector<DatasetIssue> out = issues_;
        for (const auto& [kind, n] : counts_)
            if (n > kMaxListedIssues)
                out.push_back({kind, root,
                               std::to_string(n - kMaxListedIssues) + " more '" + kind +
                                   "' issues not listed individually (" + std::to_string(n) +
                                   " in total)."});
        return out;
    }

private:
    std::vector<DatasetIssue> issues_;
    std::map<std::string, size_t> counts_;
};

class Lister {
public:
    Lister(const OpenOptions& options, IssueLog& log) : options_(options), log_(log) {}

    // Lists one directory like os.scandir: sub-directories (links followed,
    // as DirEntry.is_dir() does) and everything else. False when unreadable.
    bool list(const std::string& dir, std::vector<std::string>& dirs, std::vector<std::string>& files,
              std::string* error = nullptr) {
        DIR* d = ::opendir(dir.c_str());
        if (!d) {
            if (error) *error = std::strerror(errno);
            return false;
        }
        while (true) {
            errno = 0;
            dirent* e = ::readdir(d);
            if (!e) break;
            const char* n = e->d_name;
            if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
            tick();
            bool isDir = false;
            if (e->d_type == DT_DIR) {
                isDir = true;
            } else if (e->d_type == DT_LNK || e->d_type == DT_UNKNOWN) {
                struct stat st;
                isDir = ::stat((dir + "/" + n).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
            }
            (isDir ? dirs : files).emplace_back(n);
        }
        ::closedir(d);
        return true;
    }

    void tick() {
        ++listed_;
        if (listed_ % 1000 == 0 && options_.progress && !options_.progress(listed_))
            throw Error("cancelled");
    }

    // sorted(os.walk(top, followlinks=True)): every directory with its files,
    // sorted by directory path. Loops (a directory that is its own ancestor)
    // are reported and not entered again.
    struct WalkDir {
        std::string key;
        std::string path;
        std::vector<std::string> files;
    };
    void walk(const std::string& top, std::vector<WalkDir>& out) {
        std::vector<std::pair<dev_t, ino_t>> ancestors;
        walkRec(top, ancestors, out);
    }

private:
    void walkRec(const std::string& dir, std::vector<std::pair<dev_t, ino_t>>& ancestors,
                 std::vector<WalkDir>& out) {
        struct stat st;
        if (::stat(dir.c_str(), &st) == 0) {
            const auto id = std::make_pair(st.st_dev, st.st_ino);
            if (std::find(ancestors.begin(), ancestors.end(), id) != ancestors.end()) {
                log_.add("symlink_loop", dir,
                         "Symbolic link loop: '" + dir + "' leads back to one of its parent folders; not followed.");
                return;
            }
            ancestors.push_back(id);
        } else {
            ancestors.push_back({0, 0});
        }
        std::vector<std::string> dirs, files;
        std::string err;
        if (!list(dir, dirs, files, &err)) {
            log_.add("unreadable_file", dir, "Folder '" + dir + "' cannot be read (" + err + "); skipped.");
            ancestors.pop_back();
            return;
        }
        out.push_back({pyKey(dir), dir, std::move(files)});
        for (const auto& d : dirs) walkRec(dir + "/" + d, ancestors, out);
        ancestors.pop_back();
    }

    const OpenOptions& options_;
    IssueLog& log_;
    size_t listed_ = 0;
};

// A list of image files with labels; ImageFolder and flat folders differ
// only in how the list is made.
class FileListDataset : public Dataset {
public:
    FileListDataset(DatasetFormat format, std::string root, std::vector<std::string> classes,
                    std::vector<std::string> paths, std::vector<int32_t> labels,
                    std::vector<DatasetIssue> issues, DecodeOptions decode)
        : format_(format),
          root_(std::move(root)),
          classes_(std::move(classes)),
          paths_(std::move(paths)),
          labels_(std::move(labels)),
          issues_(std::move(issues)),
          decode_(decode) {}

    DatasetFormat format() const override { return format_; }
    std::string root() const override { return root_; }
    size_t size() const override { return paths_.size(); }
    std::vector<std::string> classes() const override { return classes_; }
    std::string path(size_t i) const override {
        if (i >= paths_.size()) throw Error("sample index " + std::to_string(i) + " out of range");
        return paths_[i];
    }
    int64_t label(size_t i) const override {
        if (i >= labels_.size()) throw Error("sample index " + std::to_string(i) + " out of range");
        return labels_[i];
    }
    Image loadRaw(size_t i, DecodeInfo* info) const override {
        if (i >= paths_.size())
            throw DecodeError(DecodeErrorKind::Unreadable,
                              root_ + ": sample index " + std::to_string(i) + " out of range");
        return decodeImageFile(paths_[i], decode_, info);
    }
    std::vector<DatasetIssue> issues() const override { return issues_; }

private:
    DatasetFormat format_;
    std::string root_;
    std::vector<std::string> classes_;
    std::vector<std::string> paths_;
    std::vector<int32_t> labels_;
    std::vector<DatasetIssue> issues_;
    DecodeOptions decode_;
};

const char* kAccepted =
    "batchscope opens an ImageFolder tree (root/<class>/<image>), a folder of images, a folder of "
    "MNIST idx files, a torchvision MNIST/FashionMNIST/KMNIST/EMNIST/QMNIST/CIFAR root, a .csv manifest (path,label), "
    ".npy/.npz arrays, a .pt/.pth tensor dump or WebDataset .tar shards (a file, a folder of them or "
    "'shard-{000..099}.tar')";

std::unique_ptr<Dataset> openFolder(const std::string& root, const OpenOptions& options) {
    IssueLog log;
    Lister lister(options, log);
    std::vector<std::string> classDirs, rootFiles;
    std::string err;
    if (!lister.list(root, classDirs, rootFiles, &err))
        throw Error(root + ": cannot read folder (" + err + ")");
    sortByPyOrder(classDirs);
    sortByPyOrder(rootFiles);

    std::vector<std::string> paths;
    std::vector<int32_t> labels;
    for (size_t c = 0; c < classDirs.size(); ++c) {
        const std::string& cls = classDirs[c];
        const std::string classDir = root + "/" + cls;
        if (!cls.empty() && cls[0] == '.')
            log.add("hidden_class", classDir,
                    "Hidden folder '" + cls + "' is treated as a class by torchvision's ImageFolder.");
        std::vector<Lister::WalkDir> walked;
        lister.walk(classDir, walked);
        std::sort(walked.begin(), walked.end(),
                  [](const Lister::WalkDir& a, const Lister::WalkDir& b) { return a.key < b.key; });
        const size_t before = paths.size();
        for (auto& wd : walked) {
            sortByPyOrder(wd.files);
            for (const auto& f : wd.files) {
                std::string p = wd.path + "/" + f;
                if (hasImageExtension(f)) {
                    paths.push_back(std::move(p));
                    labels.push_back(int32_t(c));
                } else {
                    log.add("skipped_file", p, "'" + p + "' is not an image file (by extension); skipped.");
                }
            }
        }
        if (paths.size() == before)
            log.add("empty_class", classDir,
                    "Class '" + cls + "' has no image files (torchvision's ImageFolder would refuse to open).");
    }

    std::vector<std::string> rootImages;
    for (const auto& f : rootFiles)
        if (hasImageExtension(f)) rootImages.push_back(root + "/" + f);

    if (!paths.empty()) {
        for (const auto& p : rootImages)
            log.add("skipped_file", p,
                    "Image '" + p + "' lies directly in the root, outside any class folder; ImageFolder ignores it.");
        return std::make_unique<FileListDataset>(DatasetFormat::ImageFolder, root, classDirs,
                                                 std::move(paths), std::move(labels),
                                                 log.finish(root), options.decode);
    }
    if (!rootImages.empty()) {
        // A flat folder: the class folders (if any) hold no images, so they
        // are not classes; report non-image files only.
        IssueLog flatLog;
        for (const auto& f : rootFiles)
            if (!hasImageExtension(f))
                flatLog.add("skipped_file", root + "/" + f,
                            "'" + root + "/" + f + "' is not an image file (by extension); skipped.");
        std::vector<int32_t> none(rootImages.size(), -1);
        return std::make_unique<FileListDataset>(DatasetFormat::FlatFolder, root,
                                                 std::vector<std::string>{}, std::move(rootImages),
                                                 std::move(none), flatLog.finish(root), options.decode);
    }
    throw Error(root + ": no image files found (neither in class sub-folders nor directly); " + kAccepted);
}

}  // namespace

std::unique_ptr<Dataset> openDataset(const std::string& path, const OpenOptions& options) {
    if (path.empty()) throw Error(std::string("no dataset path given; ") + kAccepted);
    const std::string abs = absolutePath(path);
    if (isBracePattern(path) && !isRegularFile(abs)) return openWebDataset(path, options);
    struct stat st;
    if (::stat(abs.c_str(), &st) != 0)
        throw Error(path + ": " + std::strerror(errno) + "; " + kAccepted);
    if ((!options.split.empty() || options.cifar100Labels == "coarse") && !(S_ISDIR(st.st_mode) && isTorchvisionRoot(abs)))
        throw Error(path + ": not a torchvision dataset root (root/FashionMNIST/raw, root/cifar-10-batches-py...); "
                           "a split or coarse labels apply only to those");
    if (S_ISDIR(st.st_mode)) {
        if (auto tv = openTorchvisionRoot(abs, options.split, options.cifar100Labels == "coarse")) return tv;  // root/FashionMNIST/raw, cifar-10-batches-py
        const std::string idx = findIdxImages(abs);
        if (!idx.empty()) return openIdx(idx, options);
        if (isShardFolder(abs)) return openWebDataset(abs, options);
        if (auto targets = openTargetDataset(abs, options))
            return targets;  // VOC, COCO, YOLO, masks
        return openFolder(abs, options);
    }
    const std::string name = lowerAscii(baseName(abs));
    if (isShardName(name)) return openWebDataset(abs, options);
    if (endsWith(name, ".csv")) return openCsv(abs, options);
    if (endsWith(name, ".json"))
        if (auto coco = openTargetDataset(abs, options)) return coco;
    if (endsWith(name, ".npy") || endsWith(name, ".npz")) return openNumpy(abs, options);
    if (endsWith(name, ".pt") || endsWith(name, ".pth")) return openTensorDump(abs, options);
    if (name.find("-idx3-ubyte") != std::string::npos || name.find("-idx1-ubyte") != std::string::npos)
        return openIdx(abs, options);
    throw Error(path + ": unrecognised dataset file; " + kAccepted);
}

}  // namespace bs
