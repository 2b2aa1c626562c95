using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace Leakage.Released;

/// <summary>A Python global (<c>module.name</c>) named by a pickle; never resolved to code.</summary>
internal sealed record PyGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>
/// A pickle virtual machine for the subset of the pickle protocol (2 to 5) that <c>torch.save</c>
/// writes: containers, numbers, strings, memo, <c>GLOBAL</c>/<c>REDUCE</c> for a short whitelist of
/// torch and collections callables, and persistent ids for storages. Like
/// <c>torch.load(weights_only=True)</c> it never runs or instantiates anything outside that
/// whitelist: any other global is reported as unsupported.
/// </summary>
/// <remarks>
/// Python values map to: <c>None</c> → null, bool, int → <see cref="long"/> (or
/// <see cref="BigInteger"/> when wider), float → double, str → string, bytes → byte[],
/// list → <see cref="List{T}"/>, tuple → object?[], dict → <see cref="Dictionary{TKey,TValue}"/>.
/// Tensors become <see cref="TensorRecord"/>s, materialised later by <see cref="TorchSaveFile"/>.
/// </remarks>
internal sealed class TorchUnpickler
{
    private static readonly object Mark = new();

    private readonly Stream _stream;
    private readonly string _path;
    private readonly Func<object?[], object> _persistentLoad;
    private readonly List<object?> _stack = new();
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = new();

    /// <param name="stream">Positioned at the first byte of a pickle; left just after its STOP.</param>
    /// <param name="path">The file name used in error messages.</param>
    /// <param name="persistentLoad">Resolves a persistent id (a tuple) to a storage.</param>
    public TorchUnpickler(Stream stream, string path, Func<object?[], object> persistentLoad)
    {
        _stream = stream;
        _path = path;
        _persistentLoad = persistentLoad;
    }

    /// <summary>Reads one pickle and returns its value.</summary>
    /// <exception cref="EndOfStreamException">The stream ends inside the pickle.</exception>
    /// <exception cref="InvalidDataException">The pickle is malformed or holds an unsupported object.</exception>
    public object? Load()
    {
        _stack.Clear();
        _marks.Clear();
        _memo.Clear();
        while (true)
        {
            long at = _stream.CanSeek ? _stream.Position : -1;
            byte op = ReadByte();
            switch (op)
            {
                case 0x80: // PROTO
                    byte proto = ReadByte();
                    if (proto > 5) throw Bad($"pickle protocol {proto} is newer than this reader knows (2 to 5)");
                    break;
                case 0x95: ReadBytes(8); break;                 // FRAME: a length hint only
                case (byte)'.':                                  // STOP
                    if (_stack.Count != 1 || _marks.Count != 0) throw Bad("pickle ends with an unbalanced stack");
                    return _stack[0];

                // Constants and numbers.
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break;
                case (byte)'K': Push((long)ReadByte()); break;
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break;
                case 0x8a: Push(DecodeLong(ReadBytes(ReadByte()))); break;                       // LONG1
                case 0x8b: Push(DecodeLong(ReadBytes(ReadLength4()))); break;                     // LONG4
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); break;  // BINFLOAT
                case (byte)'I': Push(ParseTextInt(ReadLine())); break;                            // INT (protocol 0)

                // Strings and bytes.
                case (byte)'X': Push(Utf8(ReadBytes(ReadLength4()))); break;                      // BINUNICODE
                case 0x8c: Push(Utf8(ReadBytes(ReadByte()))); break;                              // SHORT_BINUNICODE
                case 0x8d: Push(Utf8(ReadBytes(ReadLength8()))); break;                           // BINUNICODE8
                case (byte)'T': Push(Encoding.Latin1.GetString(ReadBytes(ReadLength4()))); break;  // BINSTRING (Python 2 str)
                case (byte)'U': Push(Encoding.Latin1.GetString(ReadBytes(ReadByte()))); break;     // SHORT_BINSTRING
                case (byte)'B': Push(ReadBytes(ReadLength4())); break;                            // BINBYTES
                case (byte)'C': Push(ReadBytes(ReadByte())); break;                               // SHORT_BINBYTES
                case 0x8e: Push(ReadBytes(ReadLength8())); break;                                 // BINBYTES8

                // Containers.
                case (byte)'(': _marks.Push(_stack.Count); Push(Mark); break;
                case (byte)']': Push(new List<object?>()); break;
                case (byte)')': Push(Array.Empty<object?>()); break;
                case (byte)'}': Push(new Dictionary<object, object?>()); break;
                case (byte)'l': Push(PopToMark()); break;                                         // LIST
                case (byte)'t': Push(PopToMark().ToArray()); break;                               // TUPLE
                case 0x85: Push(new[] { Pop() }); break;                                          // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; }         // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; }
                case (byte)'a': { var v = Pop(); AsList(Peek()).Add(v); break; }                  // APPEND
                case (byte)'e': { var items = PopToMark(); AsList(Peek()).AddRange(items); break; } // APPENDS
                case (byte)'d': Push(ToDict(PopToMark())); break;                                 // DICT
                case (byte)'s': { var v = Pop(); var k = Pop(); SetItem(AsDict(Peek()), k, v); break; }
                case (byte)'u':                                                                   // SETITEMS
                {
                    var items = PopToMark();
                    var dict = AsDict(Peek());
                    for (int i = 0; i + 1 < items.Count; i += 2) SetItem(dict, items[i], items[i + 1]);
                    break;
                }

                // Stack and memo.
                case (byte)'0': Pop(); break;                                                     // POP
                case (byte)'1': PopToMark(); break;                                               // POP_MARK
                case (byte)'2': Push(Peek()); break;                                              // DUP
                case (byte)'q': _memo[ReadByte()] = Peek(); break;                                // BINPUT
                case (byte)'r': _memo[ReadLength4()] = Peek(); break;                             // LONG_BINPUT
                case 0x94: _memo[_memo.Count] = Peek(); break;                                    // MEMOIZE
                case (byte)'p': _memo[ParseMemoKey(ReadLine())] = Peek(); break;                  // PUT
                case (byte)'h': Push(MemoGet(ReadByte())); break;                                 // BINGET
                case (byte)'j': Push(MemoGet(ReadLength4())); break;                              // LONG_BINGET
                case (byte)'g': Push(MemoGet(ParseMemoKey(ReadLine()))); break;                   // GET

                // Objects.
                case (byte)'c': Push(new PyGlobal(ReadLine(), ReadLine())); break;                // GLOBAL
                case 0x93:                                                                        // STACK_GLOBAL
                {
                    var name = Pop() as string ?? throw Bad("STACK_GLOBAL without a string name");
                    var module = Pop() as string ?? throw Bad("STACK_GLOBAL without a string module");
                    Push(new PyGlobal(module, name));
                    break;
                }
                case (byte)'R':                                                                   // REDUCE
                {
                    var args = Pop() as object?[] ?? throw Bad("REDUCE without an argument tuple");
                    var callable = Pop() as PyGlobal ?? throw Bad("REDUCE of something that is not a global");
                    Push(Reduce(callable, args));
                    break;
                }
                case (byte)'b': { var state = Pop(); Build(Peek(), state); break; }               // BUILD
                case (byte)'Q':                                                                   // BINPERSID
                {
                    var pid = Pop() as object?[] ?? throw Bad("persistent id is not a tuple");
                    Push(_persistentLoad(pid));
                    break;
                }

                default:
                    throw Bad($"unsupported pickle opcode 0x{op:x2} at byte {at}");
            }
        }
    }

    /// <summary>The whitelist: what torch.save writes for tensors, parameters and their hooks.</summary>
    private object? Reduce(PyGlobal f, object?[] args)
    {
        switch (f.Module, f.Name)
        {
            case ("torch._utils", "_rebuild_tensor_v2"):   // (storage, offset, size, stride, requires_grad, hooks[, metadata])
            case ("torch._utils", "_rebuild_tensor"):      // (storage, offset, size, stride)
                if (args.Length < 4) throw Bad($"{f} with {args.Length} arguments");
                return TensorRecord.Create(args[0], args[1], args[2], args[3], this);
            case ("torch._utils", "_rebuild_parameter"):             // (data, requires_grad, hooks)
            case ("torch._utils", "_rebuild_parameter_with_state"):  // (data, requires_grad, hooks, state)
                return args.Length > 0 && args[0] is TensorRecord p ? p : throw Bad($"{f} of something that is not a tensor");
            case ("torch._tensor", "_rebuild_from_type_v2"):         // (func, type, args, state)
            case ("torch._tensor", "_rebuild_from_type"):            // (func, type, args, dict)
            {
                if (args.Length < 3 || args[0] is not PyGlobal func || args[1] is not PyGlobal type || args[2] is not object?[] inner)
                    throw Bad($"malformed {f}");
                if (type is not ({ Module: "torch", Name: "Tensor" } or { Module: "torch.nn.parameter", Name: "Parameter" }))
                    throw Bad($"a tensor subclass {type} that this reader does not support");
                return Reduce(func, inner);
            }
            case ("collections", "OrderedDict"):
                return new Dictionary<object, object?>();
            case ("_codecs", "encode"): // how protocol 2 pickles Python 3 bytes: encode(text, 'latin1')
                if (args.Length == 2 && args[0] is string text && args[1] is "latin1" or "latin-1")
                    return Encoding.Latin1.GetBytes(text);
                throw Bad($"{f} with unsupported arguments");
            default:
                throw Bad($"it holds a Python object built by {f}, which this reader does not support "
                          + "(it reads tensors and lists, tuples and dicts of tensors, as torch.save writes them)");
        }
    }

    private void Build(object? target, object? state)
    {
        switch (target)
        {
            case Dictionary<object, object?> dict when state is Dictionary<object, object?> items:
                foreach (var (k, v) in items) dict[k] = v;
                break;
            case Dictionary<object, object?>:
            case TensorRecord:
                break; // Python-side attributes (hooks, __dict__ of a tensor): irrelevant to the data.
            default:
                throw Bad($"BUILD on a {Describe(target)}, which this reader does not support");
        }
    }

    internal InvalidDataException Bad(string what) => new($"{_path}: {what}.");

    internal static string Describe(object? o) => o switch
    {
        null => "None",
        TensorRecord => "tensor",
        List<object?> => "list",
        object?[] => "tuple",
        Dictionary<object, object?> => "dict",
        PyGlobal g => g.ToString(),
        string => "str",
        long or BigInteger => "int",
        double => "float",
        bool => "bool",
        byte[] => "bytes",
        _ => o.GetType().Name,
    };

    private void Push(object? o) => _stack.Add(o);

    private object? Pop()
    {
        if (_stack.Count == 0 || ReferenceEquals(_stack[^1], Mark)) throw Bad("pickle pops an empty stack");
        var o = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return o;
    }

    private object? Peek() =>
        _stack.Count == 0 || ReferenceEquals(_stack[^1], Mark) ? throw Bad("pickle reads an empty stack") : _stack[^1];

    private List<object?> PopToMark()
    {
        if (_marks.Count == 0) throw Bad("pickle closes a MARK that was never opened");
        int start = _marks.Pop();
        var items = _stack.GetRange(start + 1, _stack.Count - start - 1);
        _stack.RemoveRange(start, _stack.Count - start);
        return items;
    }

    private object? MemoGet(long key) =>
        _memo.TryGetValue(key, out var v) ? v : throw Bad($"pickle refers to memo entry {key}, which was never stored");

    private List<object?> AsList(object? o) => o as List<object?> ?? throw Bad($"APPEND to a {Describe(o)}");

    private Dictionary<object, object?> AsDict(object? o) => o as Dictionary<object, object?> ?? throw Bad($"SETITEM on a {Describe(o)}");

    private void SetItem(Dictionary<object, object?> dict, object? key, object? value) =>
        dict[key is string or long or bool or double or BigInteger ? key : throw Bad($"dict key of type {Describe(key)}")] = value;

    private Dictionary<object, object?> ToDict(List<object?> items)
    {
        var dict = new Dictionary<object, object?>();
        for (int i = 0; i + 1 < items.Count; i += 2) SetItem(dict, items[i], items[i + 1]);
        return dict;
    }

    private byte ReadByte()
    {
        int b = _stream.ReadByte();
        return b < 0 ? throw new EndOfStreamException() : (byte)b;
    }

    private byte[] ReadBytes(long count)
    {
        if (count < 0 || count > Array.MaxLength) throw Bad($"pickle field of {count} bytes");
        if (_stream.CanSeek && count > _stream.Length - _stream.Position) throw new EndOfStreamException();
        var buffer = new byte[count];
        _stream.ReadExactly(buffer);
        return buffer;
    }

    private long ReadLength4() => BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4));

    private long ReadLength8()
    {
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8));
        return n > long.MaxValue ? throw Bad("pickle field longer than 2^63 bytes") : (long)n;
    }

    private string ReadLine()
    {
        var sb = new StringBuilder();
        for (byte b; (b = ReadByte()) != (byte)'\n';)
        {
            if (sb.Length > 4096) throw Bad("pickle text field without an end of line");
            sb.Append((char)b);
        }
        return sb.ToString();
    }

    private static string Utf8(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    /// <summary>Python's two's-complement little-endian long encoding.</summary>
    private static object DecodeLong(byte[] bytes)
    {
        if (bytes.Length == 0) return 0L;
        var big = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
        return big >= long.MinValue && big <= long.MaxValue ? (object)(long)big : big; // (object): else the conditional is a BigInteger
    }

    private object ParseTextInt(string text) => text switch
    {
        "00" => false,
        "01" => true,
        _ => long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? v : throw Bad($"INT opcode with text '{text}'"),
    };

    private long ParseMemoKey(string text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : throw Bad($"memo key '{text}'");
}
