// CIFAR-10 and CIFAR-100 in torchvision's layout: python pickles of dicts
// holding a (N, 3072) uint8 NumPy array and label lists.
//
// Pickles can run arbitrary code when loaded by Python. This reader is not
// Python: it interprets the few opcodes these files use, builds plain values,
// and accepts exactly three callables by name (NumPy's array reconstruction,
// numpy.dtype and _codecs.encode, which Python 3 pickles use for bytes). Any
// other global, an unknown opcode or a size past the end of the file is an
// error naming the file.
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <variant>

#include "core/common/fileio.h"
#include "core/dataset/dataset_internal.h"
#include "core/dataset/torchvision_datasets.h"

namespace bs {

namespace {

struct PyValue;
using PyRef = std::shared_ptr<PyValue>;

// The values a CIFAR pickle can hold.
struct PyValue {
    enum class Kind {
        None,
        Bool,
        Int,
        Float,
        Str,
        Bytes,
        List,
        Tuple,
        Dict,
        Global,
        Array,
        DType,
        Mark
    };
    Kind kind = Kind::None;
    int64_t i = 0;
    double f = 0;
    std::string s;  // Str (UTF-8), Bytes, Global ("module name"), DType code, Array dtype code
    std::vector<PyRef> items;                   // List, Tuple
    std::vector<std::pair<PyRef, PyRef>> dict;  // Dict, in insertion order
    std::vector<int64_t> shape;                 // Array
    std::string data;                           // Array bytes

    static PyRef make(Kind k) {
        auto v = std::make_shared<PyValue>();
        v->kind = k;
        return v;
    }
    const PyValue* get(const std::string& key) const {
        for (const auto& [k, v] : dict)
            if ((k->kind == Kind::Str || k->kind == Kind::Bytes) && k->s == key) return v.get();
        return nullptr;
    }
};

class PickleReader {
public:
    PickleReader(std::string bytes, std::string path)
        : b_(std::move(bytes)), path_(std::move(path)) {}

    PyRef load() {
        while (true) {
            const uint8_t op = u8();
            if (op == '.') return pop();  // STOP
            step(op);
        }
    }

private:
    using K = PyValue::Kind;
    std::string b_, path_;
    size_t pos_ = 0;
    std::vector<PyRef> stack_;
    std::map<uint64_t, PyRef> memo_;

    [[noreturn]] void fail(const std::string& why) const {
        throw Error(path_ + ": not a CIFAR pickle batchscope can read safely (" + why +
                    " at byte " + std::to_string(pos_) + ")");
    }
    const char* take(uint64_t n) {
        if (n > b_.size() - pos_) fail("data runs past the end of the file");
        const char* p = b_.data() + pos_;
        pos_ += size_t(n);
        return p;
    }
    uint8_t u8() { return uint8_t(*take(1)); }
    uint64_t le(int n) {
        const auto* p = reinterpret_cast<const uint8_t*>(take(uint64_t(n)));
        uint64_t v = 0;
        for (int k = n - 1; k >= 0; --k) v = v << 8 | p[k];
        return v;
    }
    std::string line() {
        const size_t end = b_.find('\n', pos_);
        if (end == std::string::npos) fail("unterminated line");
        std::string s = b_.substr(pos_, end - pos_);
        pos_ = end + 1;
        return s;
    }
    PyRef pop() {
        if (stack_.empty()) fail("stack underflow");
        PyRef v = stack_.back();
        stack_.pop_back();
        return v;
    }
    PyRef& top() {
        if (stack_.empty()) fail("stack underflow");
        return stack_.back();
    }
    // Values pushed since the last MARK, which is removed.
    std::vector<PyRef> popMark() {
        std::vector<PyRef> out;
        while (true) {
            PyRef v = pop();
            if (v->kind == K::Mark) break;
            out.push_back(v);
        }
        return std::vector<PyRef>(out.rbegin(), out.rend());
    }
    void push(PyRef v) {
        if (stack_.size() > 100000) fail("stack too deep");
        stack_.push_back(std::move(v));
    }
    void pushInt(int64_t i) {
        auto v = PyValue::make(K::Int);
        v->i = i;
        push(v);
    }
    void pushText(K kind, uint64_t n) {
        auto v = PyValue::make(kind);
        v->s.assign(take(n), size_t(n));
        push(v);
    }
    void pushTuple(size_t n) {
        auto t = PyValue::make(K::Tuple);
        t->items.resize(n);
        for (size_t k = n; k-- > 0;) t->items[k] = pop();
        push(t);
    }
    void memoPut(uint64_t key) { memo_[key] = top(); }
    void memoGet(uint64_t key) {
        auto it = memo_.find(key);
        if (it == memo_.end()) fail("unknown memo entry");
        push(it->second);
    }
    void global(const std::string& module, const std::string& name) {
        const std::string g = module + " " + name;
        if (g != "numpy.core.multiarray _reconstruct" && g != "numpy ndarray" &&
            g != "numpy dtype" && g != "_codecs encode")
            fail("refuses to call " + module + "." + name);
        auto v = PyValue::make(K::Global);
        v->s = g;
        push(v);
    }

    void step(uint8_t op);
    bool stepConstant(uint8_t op);
    bool stepNumber(uint8_t op);
    bool stepText(uint8_t op);
    bool stepTupleOrMemo(uint8_t op);
    bool stepObject(uint8_t op);
    void reduce();
    void build();
};

// Protocol and frame markers, empty containers, MARK, None and bools. False when `op` is not one of
// them.
bool PickleReader::stepConstant(uint8_t op) {
    switch (op) {
        case 0x80:
            u8();
            break;  // PROTO
        case 0x95:
            le(8);
            break;  // FRAME
        case '}':
            push(PyValue::make(K::Dict));
            break;
        case ']':
            push(PyValue::make(K::List));
            break;
        case ')':
            push(PyValue::make(K::Tuple));
            break;
        case '(':
            push(PyValue::make(K::Mark));
            break;
        case 'N':
            push(PyValue::make(K::None));
            break;
        case 0x88:
        case 0x89: {
            auto v = PyValue::make(K::Bool);
            v->i = op == 0x88;
            push(v);
            break;
        }
        default:
            return false;
    }
    return true;
}

// Integers and floats. False when `op` is not one of them.
bool PickleReader::stepNumber(uint8_t op) {
    switch (op) {
        case 'K':
            pushInt(int64_t(u8()));
            break;  // BININT1
        case 'M':
            pushInt(int64_t(le(2)));
            break;  // BININT2
        case 'J':
            pushInt(int64_t(int32_t(uint32_t(le(4)))));
            break;    // BININT
        case 0x8a: {  // LONG1
            const uint8_t n = u8();
            if (n > 8) fail("integer too large");
            uint64_t v = n ? le(n) : 0;
            if (n && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t(0) << (8 * n);
            pushInt(int64_t(v));
            break;
        }
        case 'G': {  // BINFLOAT, big-endian
            uint64_t bits = 0;
            for (int k = 0; k < 8; ++k) bits = bits << 8 | u8();
            auto v = PyValue::make(K::Float);
            std::memcpy(&v->f, &bits, 8);
            push(v);
            break;
        }
        default:
            return false;
    }
    return true;
}

// Strings and bytes of every length prefix. False when `op` is not one of them.
bool PickleReader::stepText(uint8_t op) {
    switch (op) {
        case 'X':
            pushText(K::Str, le(4));
            break;  // BINUNICODE
        case 0x8c:
            pushText(K::Str, u8());
            break;  // SHORT_BINUNICODE
        case 'T':
            pushText(K::Bytes, le(4));
            break;  // BINSTRING (Python 2 str)
        case 'U':
            pushText(K::Bytes, u8());
            break;  // SHORT_BINSTRING
        case 'B':
            pushText(K::Bytes, le(4));
            break;  // BINBYTES
        case 'C':
            pushText(K::Bytes, u8());
            break;  // SHORT_BINBYTES
        case 0x8e:
            pushText(K::Bytes, le(8));
            break;  // BINBYTES8
        default:
            return false;
    }
    return true;
}

// Tuples, and the memo (PUT, GET, MEMOIZE). False when `op` is not one of them.
bool PickleReader::stepTupleOrMemo(uint8_t op) {
    switch (op) {
        case 0x85:
            pushTuple(1);
            break;
        case 0x86:
            pushTuple(2);
            break;
        case 0x87:
            pushTuple(3);
            break;
        case 't': {
            auto t = PyValue::make(K::Tuple);
            t->items = popMark();
            push(t);
            break;
        }
        case 'q':
            memoPut(u8());
            break;  // BINPUT
        case 'r':
            memoPut(le(4));
            break;  // LONG_BINPUT
        case 0x94:
            memoPut(memo_.size());
            break;  // MEMOIZE
        case 'h':
            memoGet(u8());
            break;  // BINGET
        case 'j':
            memoGet(le(4));
            break;   // LONG_BINGET
        default:
            return false;
    }
    return true;
}

// Globals, list and dict filling, REDUCE and BUILD. False when `op` is not one of them.
bool PickleReader::stepObject(uint8_t op) {
    switch (op) {
        case 'c': {  // GLOBAL
            const std::string module = line();
            global(module, line());
            break;
        }
        case 0x93: {  // STACK_GLOBAL
            PyRef name = pop(), module = pop();
            global(module->s, name->s);
            break;
        }
        case 'a': {  // APPEND
            PyRef v = pop();
            top()->items.push_back(v);
            break;
        }
        case 'e': {  // APPENDS
            auto values = popMark();
            PyRef& list = top();
            if (list->kind != K::List) fail("APPENDS to a non-list");
            list->items.insert(list->items.end(), values.begin(), values.end());
            break;
        }
        case 's': {  // SETITEM
            PyRef v = pop(), k = pop();
            if (top()->kind != K::Dict) fail("SETITEM on a non-dict");
            top()->dict.emplace_back(k, v);
            break;
        }
        case 'u': {  // SETITEMS
            auto kv = popMark();
            if (kv.size() % 2 || top()->kind != K::Dict) fail("bad SETITEMS");
            for (size_t k = 0; k < kv.size(); k += 2) top()->dict.emplace_back(kv[k], kv[k + 1]);
            break;
        }
        case 'R':
            reduce();
            break;
        case 'b':
            build();
            break;
        default:
            return false;
    }
    return true;
}

void PickleReader::step(uint8_t op) {
    if (stepConstant(op) || stepNumber(op) || stepText(op) || stepTupleOrMemo(op) || stepObject(op))
        return;
    char buf[48];
    std::snprintf(buf, sizeof buf, "unsupported opcode 0x%02x", op);
    fail(buf);
}

// Calls one of the three accepted callables.
void PickleReader::reduce() {
    PyRef args = pop(), fn = pop();
    if (fn->kind != K::Global || args->kind != K::Tuple) fail("REDUCE of a non-callable");
    if (fn->s == "numpy.core.multiarray _reconstruct") {
        push(PyValue::make(K::Array));
    } else if (fn->s == "numpy dtype") {
        if (args->items.empty() || args->items[0]->kind != K::Str)
            fail("numpy.dtype without a code");
        auto d = PyValue::make(K::DType);
        d->s = args->items[0]->s;
        push(d);
    } else if (fn->s == "_codecs encode") {
        // Python 3's protocol-2 form of bytes: the latin-1 text, UTF-8 in the pickle.
        if (args->items.empty() || args->items[0]->kind != K::Str)
            fail("_codecs.encode without text");
        auto out = PyValue::make(K::Bytes);
        const std::string& u = args->items[0]->s;
        for (size_t k = 0; k < u.size(); ++k) {
            const auto c = uint8_t(u[k]);
            if (c < 0x80) {
                out->s += char(c);
            } else if ((c & 0xE0) == 0xC0 && k + 1 < u.size()) {
                const unsigned cp = unsigned(c & 0x1F) << 6 | (uint8_t(u[++k]) & 0x3F);
                if (cp > 0xFF) fail("non-latin-1 text in _codecs.encode");
                out->s += char(cp);
            } else {
                fail("non-latin-1 text in _codecs.encode");
            }
        }
        push(out);
    } else {
        fail("refuses to call " + fn->s);
    }
}

// Sets an array's state: (version, shape, dtype, fortran, data).
void PickleReader::build() {
    PyRef state = pop();
    PyRef& obj = top();
    if (obj->kind == K::DType) return;  // byte order and flags of a one-byte type
    if (obj->kind != K::Array || state->kind != K::Tuple || state->items.size() < 5)
        fail("BUILD of an unsupported object");
    const auto& st = state->items;
    if (st[1]->kind != K::Tuple || st[2]->kind != K::DType)
        fail("array state without shape or dtype");
    uint64_t count = 1;
    for (const auto& d : st[1]->items) {
        if (d->kind != K::Int || d->i < 0 ||
            (d->i > 0 && count > (uint64_t(1) << 40) / uint64_t(d->i)))
            fail("bad array shape");
        obj->shape.push_back(d->i);
        count *= uint64_t(d->i);
    }
    obj->s = st[2]->s;
    if (obj->s != "u1" && obj->s != "|u1")
        fail("array of dtype " + obj->s + " (CIFAR images are uint8)");
    if (st[4]->kind != K::Bytes || st[4]->s.size() != count)
        fail("array data does not match its shape");
    if (st[3]->kind == K::Bool && st[3]->i) fail("Fortran-ordered array");
    obj->data = st[4]->s;
}

std::string readWholeFile(const std::string& path) {
    const uint64_t size = regularFileSize(path);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open");
    std::string bytes(size_t(size), '\0');
    in.read(bytes.data(), std::streamsize(size));
    if (uint64_t(in.gcount()) != size) throw Error(path + ": read failed");
    return bytes;
}

std::vector<int64_t> intsOf(const PyValue* list, const std::string& path, const char* key) {
    if (!list || list->kind != PyValue::Kind::List) throw Error(path + ": no '" + key + "' list");
    std::vector<int64_t> out;
    for (const auto& v : list->items) {
        if (v->kind != PyValue::Kind::Int) throw Error(path + ": a non-integer in '" + key + "'");
        out.push_back(v->i);
    }
    return out;
}

std::vector<std::string> namesOf(const PyValue* list) {
    std::vector<std::string> out;
    if (list && list->kind == PyValue::Kind::List)
        for (const auto& v : list->items) out.push_back(v->s);
    return out;
}

// 32x32 RGB images stored as planes (R, G, B) of 1024 bytes per row of `data`.
class CifarDataset : public Dataset {
public:
    std::string folder;
    std::vector<std::string> files;  // pickle of each sample block
    std::vector<size_t> fileStart;   // first sample of each file
    std::string pixels;              // N * 3072
    std::vector<int64_t> labels, coarse;
    std::vector<std::string> names;
    OpenOptions opened;  // split and CIFAR-100 label kind, for reopenOptions

    // The pixels are a NumPy array inside the pickle.
    DatasetFormat format() const override { return DatasetFormat::Numpy; }
    std::string root() const override { return folder; }
    OpenOptions reopenOptions() const override { return opened; }
    size_t size() const override { return labels.size(); }
    std::vector<std::string> classes() const override { return names; }
    std::string path(size_t i) const override {
        size_t f = 0;
        while (f + 1 < fileStart.size() && fileStart[f + 1] <= i) ++f;
        return files[f] + "#" + std::to_string(i - fileStart[f]);
    }
    int64_t label(size_t i) const override { return i < labels.size() ? labels[i] : -1; }
    Image loadRaw(size_t i, DecodeInfo* info) const override {
        if (i >= labels.size())
            throw DecodeError(DecodeErrorKind::Unreadable,
                              folder + ": sample index " + std::to_string(i) + " out of range");
        Image im = Image::allocate(32, 32, 3);
        const char* src = pixels.data() + i * 3072;
        for (int p = 0; p < 1024; ++p)
            for (int c = 0; c < 3; ++c)
                im.pixels[size_t(p) * 3 + size_t(c)] = uint8_t(src[c * 1024 + p]);
        if (info) {
            *info = DecodeInfo{};
            info->format = "CIFAR";
            info->sourceMode = "RGB";
            info->sourceWidth = 32;
            info->sourceHeight = 32;
        }
        return im;
    }
};

void appendBatch(CifarDataset& d, const std::string& path, bool cifar100) {
    const PyRef v = PickleReader(readWholeFile(path), path).load();
    if (v->kind != PyValue::Kind::Dict) throw Error(path + ": the pickle is not a dict");
    const PyValue* data = v->get("data");
    if (!data || data->kind != PyValue::Kind::Array || data->shape.size() != 2 ||
        data->shape[1] != 3072)
        throw Error(path + ": no (N, 3072) uint8 'data' array");
    const auto labels = intsOf(v->get(cifar100 ? "fine_labels" : "labels"), path,
                               cifar100 ? "fine_labels" : "labels");
    if (int64_t(labels.size()) != data->shape[0])
        throw Error(path + ": " + std::to_string(labels.size()) + " labels for " +
                    std::to_string(data->shape[0]) + " images");
    if (cifar100) {
        const auto coarse = intsOf(v->get("coarse_labels"), path, "coarse_labels");
        d.coarse.insert(d.coarse.end(), coarse.begin(), coarse.end());
    }
    d.files.push_back(path);
    d.fileStart.push_back(d.labels.size());
    d.labels.insert(d.labels.end(), labels.begin(), labels.end());
    d.pixels += data->data;
}

}  // namespace

namespace detail {

std::unique_ptr<Dataset> openCifar(const std::string& folder, bool cifar100, bool train,
                                   bool coarse) {
    auto d = std::make_unique<CifarDataset>();
    d->folder = folder;
    d->opened.split = train ? "train" : "test";
    if (cifar100) d->opened.cifar100Labels = coarse ? "coarse" : "fine";
    std::vector<std::string> files;
    if (cifar100)
        files = {train ? "train" : "test"};
    else if (train)
        files = {"data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"};
    else
        files = {"test_batch"};
    for (const auto& f : files) appendBatch(*d, folder + "/" + f, cifar100);
    const std::string metaPath = folder + "/" + (cifar100 ? "meta" : "batches.meta");
    const PyRef meta = PickleReader(readWholeFile(metaPath), metaPath).load();
    d->names = namesOf(meta->get(!cifar100 ? "label_names"
                                 : coarse  ? "coarse_label_names"
                                           : "fine_label_names"));
    if (cifar100 && coarse) d->labels = d->coarse;  // the 20 superclasses
    for (int64_t y : d->labels)
        if (y < 0 || size_t(y) >= d->names.size())
            throw Error(metaPath + ": label " + std::to_string(y) + " has no class name");
    return d;
}

}  // namespace detail
}  // namespace bs
