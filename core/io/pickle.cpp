#include "io/pickle.h"

#include "util/error.h"

#include <cstring>
#include <map>
#include <set>
#include <unordered_map>

namespace sde {

PyValue::~PyValue()
{
    // Each child whose last owner is being released gives up its own children first, so a chain
    // of any length is released in this loop instead of one destructor call deep per level.
    std::vector<PyRef> orphans;
    const auto adopt = [&orphans](PyValue &value) {
        for (PyRef &item : value.items)
            orphans.push_back(std::move(item));
        for (auto &[key, item] : value.dict) {
            orphans.push_back(std::move(key));
            orphans.push_back(std::move(item));
        }
        value.items.clear();
        value.dict.clear();
    };
    adopt(*this);
    while (!orphans.empty()) {
        PyRef value = std::move(orphans.back());
        orphans.pop_back();
        if (value && value.use_count() == 1)
            adopt(*value);
    }
}

PyRef PyValue::make(Kind kind)
{
    auto value = std::make_shared<PyValue>();
    value->kind = kind;
    return value;
}

std::string PyValue::describe() const
{
    switch (kind) {
    case Kind::None:
        return "None";
    case Kind::Bool:
        return "a bool";
    case Kind::Int:
        return "an int";
    case Kind::Float:
        return "a float";
    case Kind::String:
        return "a string";
    case Kind::Bytes:
        return "bytes";
    case Kind::Tuple:
        return "a tuple";
    case Kind::List:
        return "a list";
    case Kind::Dict:
        return "a dict";
    case Kind::Tensor: {
        std::string shape;
        for (int64_t s : tensor.sizes())
            shape += (shape.empty() ? "" : ", ") + std::to_string(s);
        return "a tensor [" + shape + "]";
    }
    case Kind::Global:
        return "the global " + text;
    case Kind::StorageRef:
        return "a storage";
    }
    return "?";
}

PyRef PyValue::get(const std::string &key) const
{
    for (const auto &[k, v] : dict)
        if (k->kind == Kind::String && k->text == key)
            return v;
    return nullptr;
}

namespace {

// A saved tensor has a handful of dimensions.
constexpr size_t kMaxTensorDims = 64;

// The constructors a state-dict checkpoint needs; everything else is refused.
const std::set<std::string> &allowedGlobals()
{
    static const std::set<std::string> globals = {
        "collections OrderedDict",
        "torch._utils _rebuild_tensor_v2",
        "torch._utils _rebuild_parameter",
        "torch._utils _rebuild_parameter_with_state",
        "torch._tensor _rebuild_from_type_v2",
        "torch Tensor",
        "torch.nn.parameter Parameter",
        "torch FloatStorage",
        "torch DoubleStorage",
        "torch HalfStorage",
        "torch BFloat16Storage",
        "torch LongStorage",
        "torch IntStorage",
        "torch ShortStorage",
        "torch CharStorage",
        "torch ByteStorage",
        "torch BoolStorage",
        "torch float32",
        "torch float64",
        "torch float16",
        "torch bfloat16",
        "torch int64",
        "torch int32",
        "torch int16",
        "torch int8",
        "torch uint8",
        "torch bool",
        "torch.storage UntypedStorage",
        "builtins set",
        "__builtin__ set",
    };
    return globals;
}

torch::Dtype storageDtype(const std::string &global)
{
    static const std::map<std::string, torch::Dtype> types = {
        {"torch FloatStorage", torch::kFloat32},     {"torch float32", torch::kFloat32},
        {"torch DoubleStorage", torch::kFloat64},    {"torch float64", torch::kFloat64},
        {"torch HalfStorage", torch::kFloat16},      {"torch float16", torch::kFloat16},
        {"torch BFloat16Storage", torch::kBFloat16}, {"torch bfloat16", torch::kBFloat16},
        {"torch LongStorage", torch::kInt64},        {"torch int64", torch::kInt64},
        {"torch IntStorage", torch::kInt32},         {"torch int32", torch::kInt32},
        {"torch ShortStorage", torch::kInt16},       {"torch int16", torch::kInt16},
        {"torch CharStorage", torch::kInt8},         {"torch int8", torch::kInt8},
        {"torch ByteStorage", torch::kUInt8},        {"torch uint8", torch::kUInt8},
        {"torch BoolStorage", torch::kBool},         {"torch bool", torch::kBool},
    };
    auto it = types.find(global);
    if (it == types.end())
        throw Error("unsupported storage type " + global);
    return it->second;
}

class Unpickler {
public:
    Unpickler(const std::string &data, const StorageLoader &loader, const std::string &label)
        : data_(data), loader_(loader), label_(label)
    {}

    PyRef run()
    {
        while (true) {
            const uint8_t op = readByte();
            if (op == '.') { // STOP
                if (stack_.size() != 1)
                    fail("the pickle ended with " + std::to_string(stack_.size()) + " values on its stack");
                return stack_.back();
            }
            step(op);
        }
    }

private:
    [[noreturn]] void fail(const std::string &what) const
    {
        throw Error(label_ + ": " + what + " (at byte " + std::to_string(pos_) + " of the pickle)");
    }

    uint8_t readByte()
    {
        if (pos_ >= data_.size())
            fail("the pickle is truncated");
        return static_cast<uint8_t>(data_[pos_++]);
    }

    std::string readBytes(uint64_t n)
    {
        if (n > data_.size() - pos_)
            fail("the pickle is truncated");
        std::string out = data_.substr(pos_, n);
        pos_ += n;
        return out;
    }

    template <typename T>
    T readLittle()
    {
        std::string bytes = readBytes(sizeof(T));
        T value;
        std::memcpy(&value, bytes.data(), sizeof(T));
        return value;
    }

    std::string readLine()
    {
        size_t end = data_.find('\n', pos_);
        if (end == std::string::npos)
            fail("the pickle is truncated");
        std::string line = data_.substr(pos_, end - pos_);
        pos_ = end + 1;
        return line;
    }

    void push(PyRef value)
    {
        if (stack_.size() >= kMaxPickleValues)
            tooLarge();
        stack_.push_back(std::move(value));
    }

    [[noreturn]] void tooLarge() const
    {
        fail("the pickle holds more than " + std::to_string(kMaxPickleValues) + " values");
    }

    [[noreturn]] void tooDeep() const
    {
        fail("the pickle nests deeper than " + std::to_string(kMaxPickleDepth) + " levels");
    }

    // Counts `n` values made or placed in containers against kMaxPickleValues.
    void spend(size_t n)
    {
        if (n > kMaxPickleValues - spent_)
            tooLarge();
        spent_ += n;
    }

    PyRef make(PyValue::Kind kind)
    {
        spend(1);
        PyRef value = PyValue::make(kind);
        if (kind == PyValue::Kind::Tuple || kind == PyValue::Kind::List || kind == PyValue::Kind::Dict)
            value->depth = 1;
        return value;
    }

    // Puts `items` into `container` (a tuple, list or dict being built or filled): each item is
    // placed for good, and the container, which must not itself have been placed yet (that would
    // change a value already inside another, or put a value inside itself), grows deeper.
    void place(const PyRef &container, const std::vector<PyRef> &items)
    {
        spend(items.size());
        for (const PyRef &item : items) {
            item->placed = true;
            if (item->depth >= kMaxPickleDepth)
                tooDeep();
            container->depth = std::max(container->depth, item->depth + 1);
        }
        if (container->placed)
            fail("the pickle changes " + container->describe() +
                 " after placing it inside another value (a recursive structure, which no checkpoint holds)");
    }

    PyRef pop()
    {
        if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back()))
            fail("the pickle's stack underflowed");
        PyRef value = stack_.back();
        stack_.pop_back();
        return value;
    }

    PyRef &top()
    {
        if (stack_.empty())
            fail("the pickle's stack is empty");
        return stack_.back();
    }

    std::vector<PyRef> popToMark()
    {
        if (marks_.empty())
            fail("the pickle has no mark to pop to");
        size_t mark = marks_.back();
        marks_.pop_back();
        std::vector<PyRef> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
        stack_.resize(mark);
        return items;
    }

    PyRef makeString(std::string s, PyValue::Kind kind = PyValue::Kind::String)
    {
        PyRef v = make(kind);
        v->text = std::move(s);
        return v;
    }

    PyRef makeInt(int64_t i)
    {
        PyRef v = make(PyValue::Kind::Int);
        v->integer = i;
        return v;
    }

    PyRef makeTuple(std::vector<PyRef> items)
    {
        PyRef v = make(PyValue::Kind::Tuple);
        place(v, items);
        v->items = std::move(items);
        return v;
    }

    void memoPut(uint64_t index)
    {
        if (index >= kMaxPickleValues)
            fail("memo index " + std::to_string(index) + " out of range");
        if (memo_.size() <= index)
            memo_.resize(index + 1);
        memo_[index] = top();
    }

    PyRef memoGet(uint64_t index)
    {
        if (index >= memo_.size() || !memo_[index])
            fail("memo entry " + std::to_string(index) + " is missing");
        return memo_[index];
    }

    PyRef makeGlobal(const std::string &module, const std::string &name)
    {
        std::string full = module + " " + name;
        if (!allowedGlobals().count(full))
            fail("refusing to load the Python global '" + module + "." + name +
                 "': a checkpoint needs only tensors and dicts, and this file names other code");
        return makeString(full, PyValue::Kind::Global);
    }

    // dict[key] = value: a key seen before (a string or an int, compared by value) keeps its
    // place and takes the new value, as in Python; found through an index, so that a dict of many
    // keys fills in linear time.
    void setItem(const PyRef &dict, PyRef key, PyRef value)
    {
        if (dict->kind != PyValue::Kind::Dict)
            fail("SETITEM on " + dict->describe());
        place(dict, {key, value});
        std::string name;
        if (key->kind == PyValue::Kind::String)
            name = "s" + key->text;
        else if (key->kind == PyValue::Kind::Int)
            name = "i" + std::to_string(key->integer);
        if (!name.empty()) {
            DictIndex &index = dictIndex_[dict.get()];
            index.dict = dict; // keeps the address from being reused by another dict
            const auto [it, added] = index.keys.emplace(std::move(name), dict->dict.size());
            if (!added) {
                dict->dict[it->second].second = std::move(value);
                return;
            }
        }
        dict->dict.emplace_back(std::move(key), std::move(value));
    }

    int64_t asInt(const PyRef &v, const char *what) const
    {
        if (v->kind == PyValue::Kind::Int)
            return v->integer;
        if (v->kind == PyValue::Kind::Bool)
            return v->boolean;
        fail(std::string(what) + " must be an int, found " + v->describe());
    }

    std::vector<int64_t> asInts(const PyRef &v, const char *what) const
    {
        if (v->kind != PyValue::Kind::Tuple && v->kind != PyValue::Kind::List)
            fail(std::string(what) + " must be a tuple, found " + v->describe());
        std::vector<int64_t> out;
        for (const PyRef &item : v->items)
            out.push_back(asInt(item, what));
        return out;
    }

    // persistent_id ('storage', storage_type, key, location, numel) -> the whole storage.
    PyRef persistentLoad(const PyRef &pid)
    {
        if (pid->kind != PyValue::Kind::Tuple || pid->items.size() < 5 ||
            pid->items[0]->kind != PyValue::Kind::String || pid->items[0]->text != "storage")
            fail("unsupported persistent id " + pid->describe());
        const PyRef &type = pid->items[1];
        const PyRef &key = pid->items[2];
        if (type->kind != PyValue::Kind::Global || key->kind != PyValue::Kind::String)
            fail("malformed storage reference");
        const int64_t numel = asInt(pid->items[4], "a storage size");
        if (numel < 0)
            fail("negative storage size");
        auto cached = storages_.find(key->text);
        if (cached != storages_.end())
            return cached->second;
        PyRef storage = make(PyValue::Kind::StorageRef);
        storage->tensor = loader_(key->text, storageDtype(type->text), numel);
        storages_[key->text] = storage;
        return storage;
    }

    // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])
    PyRef rebuildTensor(const std::vector<PyRef> &args)
    {
        if (args.size() < 4 || args[0]->kind != PyValue::Kind::StorageRef)
            fail("malformed tensor record");
        const torch::Tensor &storage = args[0]->tensor;
        const int64_t offset = asInt(args[1], "a tensor offset");
        std::vector<int64_t> size = asInts(args[2], "a tensor size");
        std::vector<int64_t> stride = asInts(args[3], "a tensor stride");
        if (size.size() != stride.size())
            fail("a tensor's size and stride differ in length");
        if (size.size() > kMaxTensorDims)
            fail("a tensor has " + std::to_string(size.size()) + " dimensions, more than " +
                 std::to_string(kMaxTensorDims));
        // The furthest element addressed must lie inside the storage, and the element count (of
        // the non-empty dimensions, as LibTorch computes it) must fit in its byte size.
        if (offset < 0)
            fail("a tensor starts at offset " + std::to_string(offset));
        int64_t last = offset;
        int64_t bytes = static_cast<int64_t>(storage.element_size());
        bool empty = false;
        for (size_t i = 0; i < size.size(); ++i) {
            if (size[i] < 0 || stride[i] < 0)
                fail("negative tensor size or stride");
            int64_t reach = 0;
            if (size[i] == 0)
                empty = true;
            else if (__builtin_mul_overflow(size[i] - 1, stride[i], &reach) ||
                     __builtin_add_overflow(last, reach, &last))
                fail("a tensor's size and stride reach beyond any storage (they overflow 64 bits)");
            if (size[i] > 0 && __builtin_mul_overflow(bytes, size[i], &bytes))
                fail("a tensor's size holds more elements than 64 bits can count");
        }
        if (!empty && last >= storage.numel())
            fail("a tensor reaches past the end of its storage");
        PyRef v = make(PyValue::Kind::Tensor);
        v->tensor = empty ? torch::empty(size, storage.options()) : storage.as_strided(size, stride, offset);
        return v;
    }

    PyRef reduce(PyRef callable, PyRef args)
    {
        // (func, type, args, state): rebuild with func(*args), ignore the subclass.
        while (callable->kind == PyValue::Kind::Global && callable->text == "torch._tensor _rebuild_from_type_v2") {
            if (args->kind != PyValue::Kind::Tuple || args->items.size() < 3)
                fail("malformed tensor subclass record");
            PyRef inner = args->items[0];
            args = args->items[2];
            callable = std::move(inner);
        }
        if (callable->kind != PyValue::Kind::Global)
            fail("REDUCE on " + callable->describe());
        if (args->kind != PyValue::Kind::Tuple)
            fail("REDUCE with arguments " + args->describe());
        const std::string &name = callable->text;
        if (name == "collections OrderedDict")
            return make(PyValue::Kind::Dict);
        if (name == "torch._utils _rebuild_tensor_v2")
            return rebuildTensor(args->items);
        if (name == "torch._utils _rebuild_parameter" || name == "torch._utils _rebuild_parameter_with_state") {
            if (args->items.empty() || args->items[0]->kind != PyValue::Kind::Tensor)
                fail("malformed parameter record");
            return args->items[0];
        }
        if (name == "builtins set" || name == "__builtin__ set") {
            PyRef list = make(PyValue::Kind::List);
            if (!args->items.empty()) {
                place(list, args->items[0]->items);
                list->items = args->items[0]->items;
            }
            return list;
        }
        fail("refusing to call the Python global '" + name + "'");
    }

    void step(uint8_t op)
    {
        using K = PyValue::Kind;
        switch (op) {
        case 0x80:
            readByte();
            break; // PROTO
        case 0x95:
            readLittle<uint64_t>();
            break; // FRAME
        case '(':
            if (marks_.size() >= static_cast<size_t>(kMaxPickleDepth))
                tooDeep(); // each mark opens a container, so its values would nest at least as deep
            marks_.push_back(stack_.size());
            break; // MARK
        case '0':
            pop();
            break; // POP
        case '1':
            popToMark();
            break; // POP_MARK
        case '2':
            push(top());
            break; // DUP
        case 'N':
            push(make(K::None));
            break;
        case 0x88: {
            PyRef v = make(K::Bool);
            v->boolean = true;
            push(v);
            break;
        }
        case 0x89: {
            PyRef v = make(K::Bool);
            v->boolean = false;
            push(v);
            break;
        }
        case 'K':
            push(makeInt(readByte()));
            break; // BININT1
        case 'M':
            push(makeInt(readLittle<uint16_t>()));
            break; // BININT2
        case 'J':
            push(makeInt(readLittle<int32_t>()));
            break;   // BININT
        case 0x8a: { // LONG1
            uint8_t n = readByte();
            std::string bytes = readBytes(n);
            if (n > 8)
                fail("integer too large");
            int64_t v = 0;
            for (int i = n - 1; i >= 0; --i)
                v = (v << 8) | static_cast<uint8_t>(bytes[static_cast<size_t>(i)]);
            if (n > 0 && n < 8 && (static_cast<uint8_t>(bytes[n - 1]) & 0x80))
                v -= int64_t(1) << (8 * n);
            push(makeInt(v));
            break;
        }
        case 'I': { // INT (text)
            std::string line = readLine();
            if (line == "01" || line == "00") {
                PyRef v = make(K::Bool);
                v->boolean = line == "01";
                push(v);
            } else {
                try {
                    push(makeInt(std::stoll(line)));
                } catch (...) {
                    fail("malformed INT");
                }
            }
            break;
        }
        case 'L': { // LONG (text)
            std::string line = readLine();
            if (!line.empty() && line.back() == 'L')
                line.pop_back();
            try {
                push(makeInt(std::stoll(line)));
            } catch (...) {
                fail("malformed LONG");
            }
            break;
        }
        case 'G': { // BINFLOAT (big endian)
            std::string bytes = readBytes(8);
            uint64_t bits = 0;
            for (char c : bytes)
                bits = (bits << 8) | static_cast<uint8_t>(c);
            PyRef v = make(K::Float);
            std::memcpy(&v->real, &bits, 8);
            push(v);
            break;
        }
        case 'F': { // FLOAT (text)
            PyRef v = make(K::Float);
            try {
                v->real = std::stod(readLine());
            } catch (...) {
                fail("malformed FLOAT");
            }
            push(v);
            break;
        }
        case 'X':
            push(makeString(readBytes(readLittle<uint32_t>())));
            break; // BINUNICODE
        case 0x8c:
            push(makeString(readBytes(readByte())));
            break; // SHORT_BINUNICODE
        case 0x8d:
            push(makeString(readBytes(readLittle<uint64_t>())));
            break; // BINUNICODE8
        case 'V':
            push(makeString(readLine()));
            break; // UNICODE (raw)
        case 'T':
            push(makeString(readBytes(readLittle<uint32_t>())));
            break; // BINSTRING
        case 'U':
            push(makeString(readBytes(readByte())));
            break; // SHORT_BINSTRING
        case 'B':
            push(makeString(readBytes(readLittle<uint32_t>()), K::Bytes));
            break; // BINBYTES
        case 'C':
            push(makeString(readBytes(readByte()), K::Bytes));
            break; // SHORT_BINBYTES
        case 0x8e:
            push(makeString(readBytes(readLittle<uint64_t>()), K::Bytes));
            break; // BINBYTES8
        case ')':
            push(makeTuple({}));
            break; // EMPTY_TUPLE
        case 't':
            push(makeTuple(popToMark()));
            break; // TUPLE
        case 0x85: {
            PyRef a = pop();
            push(makeTuple({a}));
            break;
        }
        case 0x86: {
            PyRef b = pop();
            PyRef a = pop();
            push(makeTuple({a, b}));
            break;
        }
        case 0x87: {
            PyRef c = pop();
            PyRef b = pop();
            PyRef a = pop();
            push(makeTuple({a, b, c}));
            break;
        }
        case ']':
            push(make(K::List));
            break; // EMPTY_LIST
        case 'l': {
            PyRef v = make(K::List);
            std::vector<PyRef> items = popToMark();
            place(v, items);
            v->items = std::move(items);
            push(v);
            break;
        }
        case 'a': { // APPEND
            PyRef item = pop();
            PyRef &list = top();
            if (list->kind != K::List)
                fail("APPEND to " + list->describe());
            place(list, {item});
            list->items.push_back(item);
            break;
        }
        case 'e': { // APPENDS
            std::vector<PyRef> items = popToMark();
            PyRef &list = top();
            if (list->kind != K::List)
                fail("APPENDS to " + list->describe());
            place(list, items);
            list->items.insert(list->items.end(), items.begin(), items.end());
            break;
        }
        case '}':
            push(make(K::Dict));
            break;  // EMPTY_DICT
        case 'd': { // DICT
            std::vector<PyRef> items = popToMark();
            if (items.size() % 2)
                fail("DICT with an odd number of items");
            PyRef dict = make(K::Dict);
            for (size_t i = 0; i < items.size(); i += 2)
                setItem(dict, items[i], items[i + 1]);
            push(dict);
            break;
        }
        case 's': { // SETITEM
            PyRef value = pop();
            PyRef key = pop();
            setItem(top(), key, value);
            break;
        }
        case 'u': { // SETITEMS
            std::vector<PyRef> items = popToMark();
            if (items.size() % 2)
                fail("SETITEMS with an odd number of items");
            for (size_t i = 0; i < items.size(); i += 2)
                setItem(top(), items[i], items[i + 1]);
            break;
        }
        case 0x8f:
            push(make(K::List));
            break;   // EMPTY_SET (as a list)
        case 0x90: { // ADDITEMS
            std::vector<PyRef> items = popToMark();
            PyRef &set = top();
            if (set->kind != K::List)
                fail("ADDITEMS to " + set->describe());
            place(set, items);
            set->items.insert(set->items.end(), items.begin(), items.end());
            break;
        }
        case 0x91: {
            PyRef v = make(K::List);
            std::vector<PyRef> items = popToMark();
            place(v, items);
            v->items = std::move(items);
            push(v);
            break;
        } // FROZENSET
        case 'p':
            memoPut(std::stoull("0" + readLine()));
            break; // PUT
        case 'q':
            memoPut(readByte());
            break; // BINPUT
        case 'r':
            memoPut(readLittle<uint32_t>());
            break; // LONG_BINPUT
        case 0x94:
            memoPut(memo_.size());
            break; // MEMOIZE
        case 'g':
            push(memoGet(std::stoull("0" + readLine())));
            break; // GET
        case 'h':
            push(memoGet(readByte()));
            break; // BINGET
        case 'j':
            push(memoGet(readLittle<uint32_t>()));
            break;  // LONG_BINGET
        case 'c': { // GLOBAL
            std::string module = readLine();
            std::string name = readLine();
            push(makeGlobal(module, name));
            break;
        }
        case 0x93: { // STACK_GLOBAL
            PyRef name = pop();
            PyRef module = pop();
            if (module->kind != K::String || name->kind != K::String)
                fail("STACK_GLOBAL with non-string names");
            push(makeGlobal(module->text, name->text));
            break;
        }
        case 'R': { // REDUCE
            PyRef args = pop();
            PyRef callable = pop();
            push(reduce(callable, args));
            break;
        }
        case 'b': { // BUILD
            PyRef state = pop();
            (void)state; // OrderedDict._metadata and tensor state carry nothing we use
            if (top()->kind == K::Global)
                fail("BUILD on " + top()->describe());
            break;
        }
        case 'Q':
            push(persistentLoad(pop()));
            break; // BINPERSID
        case 'P':
            fail("text persistent ids are not supported"); // PERSID
        case 0x81:                                         // NEWOBJ
        case 0x92:                                         // NEWOBJ_EX
        case 'i':                                          // INST
        case 'o':                                          // OBJ
            fail("refusing to construct a Python object (opcode 0x" + hex(op) + ")");
        default:
            fail("unknown pickle opcode 0x" + hex(op));
        }
    }

    static std::string hex(uint8_t op)
    {
        const char *digits = "0123456789abcdef";
        return {digits[op >> 4], digits[op & 15]};
    }

    const std::string &data_;
    const StorageLoader &loader_;
    const std::string &label_;
    size_t pos_ = 0;
    std::vector<PyRef> stack_;
    std::vector<size_t> marks_;
    std::vector<PyRef> memo_;
    std::map<std::string, PyRef> storages_;
    struct DictIndex {
        PyRef dict;
        std::unordered_map<std::string, size_t> keys; // "s<text>" or "i<integer>" -> position
    };
    std::unordered_map<const PyValue *, DictIndex> dictIndex_;
    size_t spent_ = 0; // values made and placed, against kMaxPickleValues
};

} // namespace

PyRef unpickle(const std::string &data, const StorageLoader &loader, const std::string &label)
{
    try {
        return Unpickler(data, loader, label).run();
    } catch (const std::invalid_argument &) {
        throw Error(label + ": malformed pickle text field");
    } catch (const std::out_of_range &) {
        throw Error(label + ": malformed pickle text field");
    }
}

} // namespace sde
