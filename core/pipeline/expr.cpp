#include "core/pipeline/expr.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "core/common/torch_bridge.h"

namespace bs {
namespace expr_detail {

// A value during evaluation: Python numbers stay doubles so that mixing them
// with tensors follows torch's scalar promotion exactly.
struct Value {
    bool isNumber = false;
    double number = 0;
    at::Tensor tensor;
    static Value num(double v) {
        Value r;
        r.isNumber = true;
        r.number = v;
        return r;
    }
    static Value ten(at::Tensor t) {
        Value r;
        r.tensor = std::move(t);
        return r;
    }
};

struct Node {
    virtual ~Node() = default;
    virtual Value eval(const at::Tensor& x) const = 0;
};
using NodeP = std::shared_ptr<const Node>;

struct NumberNode : Node {
    double v;
    explicit NumberNode(double d) : v(d) {}
    Value eval(const at::Tensor&) const override { return Value::num(v); }
};
struct VarNode : Node {
    Value eval(const at::Tensor& x) const override { return Value::ten(x); }
};
struct NegNode : Node {
    NodeP a;
    explicit NegNode(NodeP n) : a(std::move(n)) {}
    Value eval(const at::Tensor& x) const override {
        Value v = a->eval(x);
        return v.isNumber ? Value::num(-v.number) : Value::ten(at::neg(v.tensor));
    }
};

static at::Tensor asFloat(at::Tensor t) {
    return t.to(at::kFloat);
}

struct BinNode : Node {
    std::string op;
    NodeP a, b;
    BinNode(std::string o, NodeP l, NodeP r) : op(std::move(o)), a(std::move(l)), b(std::move(r)) {}
    Value eval(const at::Tensor& x) const override {
        const Value l = a->eval(x), r = b->eval(x);
        if (l.isNumber && r.isNumber) return Value::num(numbers(l.number, r.number));
        if (!l.isNumber && !r.isNumber) return Value::ten(tensors(l.tensor, r.tensor));
        if (!l.isNumber) return Value::ten(tensorScalar(l.tensor, r.number));
        return Value::ten(scalarTensor(l.number, r.tensor));
    }
    double numbers(double l, double r) const {
        if (op == "+") return l + r;
        if (op == "-") return l - r;
        if (op == "*") return l * r;
        if (op == "/") return l / r;
        if (op == "**") return std::pow(l, r);
        if (op == "<") return l < r;
        if (op == "<=") return l <= r;
        if (op == ">") return l > r;
        if (op == ">=") return l >= r;
        if (op == "==") return l == r;
        return l != r;
    }
    at::Tensor tensors(const at::Tensor& l, const at::Tensor& r) const {
        if (op == "+") return at::add(l, r);
        if (op == "-") return at::sub(l, r);
        if (op == "*") return at::mul(l, r);
        if (op == "/") return at::div(l, r);
        if (op == "**") return at::pow(l, r);
        if (op == "<") return asFloat(at::lt(l, r));
        if (op == "<=") return asFloat(at::le(l, r));
        if (op == ">") return asFloat(at::gt(l, r));
        if (op == ">=") return asFloat(at::ge(l, r));
        if (op == "==") return asFloat(at::eq(l, r));
        return asFloat(at::ne(l, r));
    }
    at::Tensor tensorScalar(const at::Tensor& l, double r) const {
        const at::Scalar s(r);
        if (op == "+") return at::add(l, s);
        if (op == "-") return at::sub(l, s);
        if (op == "*") return at::mul(l, s);
        if (op == "/") return at::div(l, s);
        if (op == "**") return at::pow(l, s);
        if (op == "<") return asFloat(at::lt(l, s));
        if (op == "<=") return asFloat(at::le(l, s));
        if (op == ">") return asFloat(at::gt(l, s));
        if (op == ">=") return asFloat(at::ge(l, s));
        if (op == "==") return asFloat(at::eq(l, s));
        return asFloat(at::ne(l, s));
    }
    // Python's reflected operators on torch.Tensor (torch/_tensor.py):
    // __rsub__ is rsub, __rtruediv__ is reciprocal() * other, __rpow__ is
    // torch.pow(other, self); comparisons swap sides.
    at::Tensor scalarTensor(double l, const at::Tensor& r) const {
        const at::Scalar s(l);
        if (op == "+") return at::add(r, s);
        if (op == "-") return at::rsub(r, s);
        if (op == "*") return at::mul(r, s);
        if (op == "/") return at::mul(at::reciprocal(r), s);
        if (op == "**") return at::pow(s, r);
        if (op == "<") return asFloat(at::gt(r, s));
        if (op == "<=") return asFloat(at::ge(r, s));
        if (op == ">") return asFloat(at::lt(r, s));
        if (op == ">=") return asFloat(at::le(r, s));
        if (op == "==") return asFloat(at::eq(r, s));
        return asFloat(at::ne(r, s));
    }
};

struct CallNode : Node {
    std::string name;
    std::vector<NodeP> args;  // args[0] is the tensor the method is called on
    CallNode(std::string n, std::vector<NodeP> a) : name(std::move(n)), args(std::move(a)) {}
    Value eval(const at::Tensor& x) const override {
        std::vector<Value> v;
        for (const auto& a : args) v.push_back(a->eval(x));
        // A method on a plain number (e.g. torch.abs(-1)) works on a 0-dim tensor.
        at::Tensor t = v[0].isNumber ? at::scalar_tensor(v[0].number, at::kDouble).to(at::kFloat)
                                     : v[0].tensor;
        if (name == "sum") return Value::ten(at::sum(t));
        if (name == "mean") return Value::ten(at::mean(t));
        if (name == "std") return Value::ten(at::std(t, /*unbiased=*/true));
        if (name == "min") return Value::ten(at::min(t));
        if (name == "max") return Value::ten(at::max(t));
        if (name == "abs") return Value::ten(at::abs(t));
        if (name == "log") return Value::ten(at::log(t));
        if (name == "exp") return Value::ten(at::exp(t));
        if (name == "sqrt") return Value::ten(at::sqrt(t));
        if (name == "float") return Value::ten(t.to(at::kFloat));
        if (name == "clamp") {
            c10::optional<at::Scalar> lo, hi;
            if (v.size() > 1 && v[1].isNumber) lo = at::Scalar(v[1].number);
            if (v.size() > 2 && v[2].isNumber) hi = at::Scalar(v[2].number);
            if ((v.size() > 1 && !v[1].isNumber) || (v.size() > 2 && !v[2].isNumber)) {
                c10::optional<at::Tensor> tlo, thi;
                auto asT = [&](const Value& a) {
                    return a.isNumber ? at::scalar_tensor(a.number, t.options()) : a.tensor;
                };
                if (v.size() > 1) tlo = asT(v[1]);
                if (v.size() > 2) thi = asT(v[2]);
                return Value::ten(at::clamp(t, tlo, thi));
            }
            return Value::ten(at::clamp(t, lo, hi));
        }
        throw Error("Lambda: unknown function " + name);
    }
};

// Number of extra arguments each method takes (after the tensor).
static int arity(const std::string& name, int& maxArgs) {
    static const char* noArg[] = {"sum", "mean", "std", "min",  "max",
                                  "abs", "log",  "exp", "sqrt", "float"};
    for (const char* n : noArg)
        if (name == n) {
            maxArgs = 0;
            return 0;
        }
    if (name == "clamp") {
        maxArgs = 2;
        return 1;
    }
    return -1;
}
static const char* kMethods = "sum, mean, std, min, max, abs, log, exp, sqrt, clamp(a, b), float";

class Parser {
public:
    explicit Parser(const std::string& s) : s_(s) {}

    NodeP parseAll() {
        NodeP n = comparison();
        skip();
        if (pos_ < s_.size()) fail("unexpected " + tokenAt(pos_), pos_);
        return n;
    }

private:
    const std::string& s_;
    size_t pos_ = 0;
    int depth_ = 0;

    [[noreturn]] void fail(const std::string& what, size_t at,
                           const std::string& accepted = "") const {
        throw Error("Lambda: " + what + " at column " + std::to_string(at + 1) + " in '" + s_ +
                    "'" + (accepted.empty() ? "" : "; accepted: " + accepted));
    }
    std::string tokenAt(size_t p) const {
        if (p >= s_.size()) return "end of expression";
        return "'" + std::string(1, s_[p]) + "'";
    }
    void skip() {
        while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    }
    bool accept(const std::string& tok) {
        skip();
        if (s_.compare(pos_, tok.size(), tok) != 0) return false;
        // "*" must not eat the first half of "**", "<" not "<=".
        if ((tok == "*" || tok == "<" || tok == ">" || tok == "=") && pos_ + 1 < s_.size() &&
            (s_[pos_ + 1] == '*' && tok == "*"))
            return false;
        pos_ += tok.size();
        return true;
    }
    void expect(char c) {
        skip();
        if (pos_ >= s_.size() || s_[pos_] != c)
            fail("expected '" + std::string(1, c) + "' but found " + tokenAt(pos_), pos_);
        ++pos_;
    }

    NodeP comparison() {
        NodeP l = additive();
        for (;;) {
            skip();
            std::string op;
            for (const char* o : {"<=", ">=", "==", "!=", "<", ">"})
                if (s_.compare(pos_, std::strlen(o), o) == 0) {
                    op = o;
                    break;
                }
            if (op.empty()) return l;
            pos_ += op.size();
            l = std::make_shared<BinNode>(op, l, additive());
        }
    }
    NodeP additive() {
        NodeP l = term();
        for (;;) {
            if (accept("+"))
                l = std::make_shared<BinNode>("+", l, term());
            else if (accept("-"))
                l = std::make_shared<BinNode>("-", l, term());
            else
                return l;
        }
    }
    NodeP term() {
        NodeP l = unary();
        for (;;) {
            if (accept("*"))
                l = std::make_shared<BinNode>("*", l, unary());
            else if (accept("/"))
                l = std::make_shared<BinNode>("/", l, unary());
            else
                return l;
        }
    }
    NodeP unary() {
        // Every nesting (parentheses, call arguments, unary signs, the right
        // side of **) passes here: bound it so hostile text cannot exhaust
        // the stack in this parser or in the tree's recursive evaluation.
        constexpr int kMaxDepth = 200;
        struct Depth {
            int& d;
            explicit Depth(int& depth) : d(++depth) {}
            ~Depth() { --d; }
        } depth(depth_);
        if (depth_ > kMaxDepth)
            fail("expression nested deeper than " + std::to_string(kMaxDepth) + " levels", pos_);
        if (accept("-")) return std::make_shared<NegNode>(unary());
        if (accept("+")) return unary();
        return power();
    }
    // Python: ** binds tighter than a unary minus on its left, and its right
    // operand may itself be unary (2 ** -1); it is right-associative.
    NodeP power() {
        NodeP base = postfix();
        if (accept("**")) return std::make_shared<BinNode>("**", base, unary());
        return base;
    }
    NodeP postfix() {
        NodeP n = primary();
        for (;;) {
            skip();
            if (pos_ < s_.size() && s_[pos_] == '.') {
                ++pos_;
                skip();
                const size_t at = pos_;
                std::string name = ident();
                if (name.empty()) fail("expected a method name but found " + tokenAt(pos_), pos_);
                n = call(name, {n}, at);
            } else {
                return n;
            }
        }
    }
    std::string ident() {
        size_t b = pos_;
        while (pos_ < s_.size() &&
               (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_'))
            ++pos_;
        return s_.substr(b, pos_ - b);
    }
    NodeP call(const std::string& name, std::vector<NodeP> args, size_t at) {
        int maxArgs = 0;
        const int minArgs = arity(name, maxArgs);
        if (minArgs < 0) fail("unknown method '" + name + "'", at, kMethods);
        expect('(');
        skip();
        const size_t first = args.size();
        if (!accept(")")) {
            for (;;) {
                args.push_back(comparison());
                if (accept(")")) break;
                skip();
                if (pos_ >= s_.size() || s_[pos_] != ',') fail("unexpected " + tokenAt(pos_), pos_);
                ++pos_;
            }
        }
        const int given = int(args.size() - first);
        if (given < minArgs || given > maxArgs)
            fail(name + "() takes " +
                     (minArgs == maxArgs
                          ? std::to_string(minArgs)
                          : std::to_string(minArgs) + " to " + std::to_string(maxArgs)) +
                     " argument(s), got " + std::to_string(given),
                 at);
        return std::make_shared<CallNode>(name, std::move(args));
    }
    NodeP primary() {
        skip();
        if (pos_ >= s_.size()) fail("unexpected end of expression", pos_);
        const char c = s_[pos_];
        if (c == '(') {
            ++pos_;
            NodeP n = comparison();
            expect(')');
            return n;
        }
        if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
            const char* b = s_.c_str() + pos_;
            char* e = nullptr;
            const double v = std::strtod(b, &e);
            if (e == b) fail("unexpected " + tokenAt(pos_), pos_);
            pos_ += size_t(e - b);
            return std::make_shared<NumberNode>(v);
        }
        if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
            const size_t at = pos_;
            std::string name = ident();
            if (name == "x") return std::make_shared<VarNode>();
            if (name == "torch") {
                expect('.');
                skip();
                const size_t fat = pos_;
                std::string fn = ident();
                if (fn.empty()) fail("expected a function name but found " + tokenAt(pos_), pos_);
                int maxArgs = 0;
                if (arity(fn, maxArgs) < 0)
                    fail("unknown function 'torch." + fn + "'", fat, kMethods);
                // torch.f(x, a, b) == x.f(a, b): parse the first argument then the rest.
                expect('(');
                NodeP self = comparison();
                skip();
                std::vector<NodeP> args{self};
                int maxA = 0;
                const int minA = arity(fn, maxA);
                while (accept(",")) args.push_back(comparison());
                expect(')');
                const int given = int(args.size()) - 1;
                if (given < minA || given > maxA)
                    fail("torch." + fn + "() got a wrong number of arguments", fat);
                return std::make_shared<CallNode>(fn, std::move(args));
            }
            fail("unknown name '" + name + "'", at, "x, numbers, torch.<function>(x)");
        }
        fail("unexpected " + tokenAt(pos_), pos_);
    }
};

}  // namespace expr_detail

Expression Expression::parse(const std::string& text) {
    // A long chain (x+x+...+x) nests as deeply as it is long in the tree.
    constexpr size_t kMaxLength = 4096;
    if (text.size() > kMaxLength)
        throw Error("Lambda: expression longer than " + std::to_string(kMaxLength) + " characters");
    Expression e;
    e.text_ = text;
    expr_detail::Parser p(e.text_);
    e.root_ = p.parseAll();
    return e;
}

Tensor Expression::evaluate(const Tensor& x) const {
    if (!root_) throw Error("Lambda: empty expression");
    try {
        at::Tensor in = toAten(x);
        expr_detail::Value v = root_->eval(in);
        if (v.isNumber) return fromAten(at::scalar_tensor(v.number, at::kFloat));
        return fromAten(v.tensor);
    } catch (const c10::Error& e) {
        std::string msg = e.what_without_backtrace();
        if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
        throw Error("Lambda: torch rejected '" + text_ + "': " + msg);
    }
}

}  // namespace bs
