//! The import policy: which callables a pickle may import.
//!
//! Order matters and is the point of this module: **allow-list first**. An
//! import on the vetted list of harmless ML constructors passes; one on the
//! dangerous list is critical; anything else is suspicious (high). A dangerous
//! entry never needs to be complete for safety, because unknown imports are
//! already flagged; it only sharpens the severity and the message.
//!
//! Module names are normalised the way CPython's unpickler does for protocol
//! < 3 (`fix_imports`: `__builtin__` → `builtins`, ...), and dotted names are
//! judged component by component because protocol 4+ resolves `a.b.c`
//! attribute chains (`collections.OrderedDict.__init__.__globals__` must not
//! pass because `collections.OrderedDict` does).

use crate::finding::Severity;

/// The verdict on one import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// On the allow-list: a harmless constructor.
    Allowed,
    /// On the dangerous list, with the reason.
    Dangerous(&'static str),
    /// Neither: at least suspicious.
    Unknown,
}

impl Verdict {
    /// The severity a finding for this verdict gets (`None` for allowed imports).
    pub fn severity(&self) -> Option<Severity> {
        match self {
            Verdict::Allowed => None,
            Verdict::Dangerous(_) => Some(Severity::Critical),
            Verdict::Unknown => Some(Severity::High),
        }
    }
}

/// Harmless constructors: exact `(module, name)` pairs, after normalisation.
const ALLOWED: &[(&str, &[&str])] = &[
    (
        "collections",
        &["OrderedDict", "defaultdict", "Counter", "deque"],
    ),
    (
        "builtins",
        &[
            "set",
            "frozenset",
            "list",
            "dict",
            "tuple",
            "int",
            "float",
            "complex",
            "bool",
            "str",
            "bytes",
            "bytearray",
            "slice",
            "range",
            "object",
        ],
    ),
    ("copyreg", &["_reconstructor"]),
    ("_codecs", &["encode"]),
    (
        "datetime",
        &["datetime", "date", "time", "timedelta", "timezone"],
    ),
    ("decimal", &["Decimal"]),
    ("fractions", &["Fraction"]),
    ("uuid", &["UUID"]),
    (
        "torch._utils",
        &[
            "_rebuild_tensor",
            "_rebuild_tensor_v2",
            "_rebuild_tensor_v3",
            "_rebuild_parameter",
            "_rebuild_parameter_with_state",
            "_rebuild_qtensor",
            "_rebuild_sparse_tensor",
            "_rebuild_nested_tensor",
            "_rebuild_device_tensor_from_numpy",
            "_rebuild_meta_tensor_no_storage",
            "_rebuild_wrapper_subclass",
        ],
    ),
    ("torch._tensor", &["_rebuild_from_type_v2"]),
    ("torch.nn.parameter", &["Parameter"]),
    (
        "torch.storage",
        &["UntypedStorage", "TypedStorage", "_LegacyStorage"],
    ),
    (
        "torch",
        &[
            "Tensor",
            "Size",
            "device",
            "dtype",
            "layout",
            "memory_format",
            "FloatStorage",
            "DoubleStorage",
            "HalfStorage",
            "BFloat16Storage",
            "LongStorage",
            "IntStorage",
            "ShortStorage",
            "CharStorage",
            "ByteStorage",
            "BoolStorage",
            "ComplexFloatStorage",
            "ComplexDoubleStorage",
            "QInt8Storage",
            "QUInt8Storage",
            "QInt32Storage",
            "QUInt4x2Storage",
            "QUInt2x4Storage",
            "UntypedStorage",
            "float64",
            "float32",
            "float16",
            "bfloat16",
            "int64",
            "int32",
            "int16",
            "int8",
            "uint8",
            "bool",
            "complex64",
            "complex128",
            "float8_e4m3fn",
            "float8_e5m2",
            "strided",
            "sparse_coo",
            "contiguous_format",
            "channels_last",
            "preserve_format",
        ],
    ),
    (
        "numpy.core.multiarray",
        &["_reconstruct", "scalar", "_frombuffer"],
    ),
    (
        "numpy._core.multiarray",
        &["_reconstruct", "scalar", "_frombuffer"],
    ),
    ("numpy.core.numeric", &["_frombuffer"]),
    ("numpy._core.numeric", &["_frombuffer"]),
    (
        "numpy",
        &[
            "ndarray",
            "dtype",
            "core.multiarray._reconstruct",
            "_core.multiarray._reconstruct",
        ],
    ),
    (
        "numpy.dtypes",
        &[
            "Float64DType",
            "Float32DType",
            "Float16DType",
            "Int64DType",
            "Int32DType",
            "Int16DType",
            "Int8DType",
            "UInt64DType",
            "UInt32DType",
            "UInt16DType",
            "UInt8DType",
            "BoolDType",
            "ObjectDType",
            "StrDType",
            "BytesDType",
            "Complex64DType",
            "Complex128DType",
            "VoidDType",
        ],
    ),
    ("joblib.numpy_pickle", &["NumpyArrayWrapper"]),
];

/// Modules whose every member is dangerous (prefix match on dotted modules).
const DANGEROUS_MODULES: &[(&str, &str)] = &[
    ("os", "operating-system access (files, processes)"),
    ("posix", "operating-system access (files, processes)"),
    ("nt", "operating-system access (files, processes)"),
    ("posixpath", "operating-system path access"),
    ("ntpath", "operating-system path access"),
    ("subprocess", "runs processes"),
    ("pty", "spawns processes"),
    ("commands", "runs shell commands"),
    ("popen2", "runs shell commands"),
    ("sys", "interpreter internals (sys.modules overrides)"),
    ("shutil", "file-system operations"),
    ("runpy", "runs code"),
    ("code", "interactive interpreter: runs code"),
    ("codeop", "compiles code"),
    ("importlib", "imports arbitrary modules"),
    ("imp", "imports arbitrary modules"),
    ("pkgutil", "resolves and imports arbitrary names"),
    ("zipimport", "imports code from archives"),
    ("marshal", "loads code objects"),
    ("types", "builds code and function objects"),
    ("ctypes", "loads native libraries, raw memory"),
    ("_ctypes", "loads native libraries, raw memory"),
    ("cffi", "loads native libraries"),
    ("pickle", "nested unpickling"),
    ("_pickle", "nested unpickling"),
    ("cPickle", "nested unpickling"),
    ("pickletools", "pickle machinery"),
    ("dill", "pickles code objects"),
    ("cloudpickle", "pickles code objects"),
    ("shelve", "nested unpickling"),
    ("joblib", "nested loading"),
    ("socket", "network access"),
    ("_socket", "network access"),
    ("ssl", "network access"),
    ("http", "network access"),
    ("httplib", "network access"),
    ("urllib", "network access"),
    ("urllib2", "network access"),
    ("urllib3", "network access"),
    ("requests", "network access"),
    ("aiohttp", "network access"),
    ("httpx", "network access"),
    ("ftplib", "network access"),
    ("smtplib", "network access"),
    ("imaplib", "network access / runs commands"),
    ("poplib", "network access"),
    ("telnetlib", "network access"),
    ("nntplib", "network access"),
    ("xmlrpc", "network access"),
    ("webbrowser", "opens URLs / runs programs"),
    ("asyncio", "subprocesses and network access"),
    ("multiprocessing", "spawns processes"),
    ("concurrent", "runs callables in executors"),
    ("threading", "runs callables in threads"),
    ("_thread", "runs callables in threads"),
    ("signal", "signal handlers"),
    ("pip", "installs packages"),
    ("ensurepip", "installs packages"),
    ("venv", "creates environments, runs pip"),
    ("setuptools", "builds and runs code"),
    ("distutils", "builds code, writes files"),
    ("pydoc", "runs pagers / locates arbitrary names"),
    ("bdb", "debugger: runs code"),
    ("pdb", "debugger: runs code"),
    ("cProfile", "profiler: runs code"),
    ("profile", "profiler: runs code"),
    ("trace", "tracer: runs code"),
    ("timeit", "runs code"),
    ("doctest", "runs code"),
    ("idlelib", "IDE internals: runs code"),
    ("lib2to3", "loads pickled grammars / code"),
    ("tkinter", "GUI toolkit, runs Tcl"),
    ("_tkinter", "runs Tcl"),
    ("test", "CPython test helpers run interpreters"),
    ("_aix_support", "runs commands"),
    ("_osx_support", "runs commands"),
    ("_pyrepl", "runs pagers and code"),
    ("platform", "runs commands"),
    ("io", "file access"),
    ("_io", "file access"),
    ("builtins.open", "file access"),
    ("tempfile", "file access"),
    ("glob", "file-system access"),
    ("fileinput", "file access"),
    ("logging", "file and network handlers"),
    ("sqlite3", "database file access"),
    ("dbm", "database file access"),
    ("gc", "interpreter internals"),
    ("inspect", "interpreter internals"),
    ("operator", "attribute and method gadgets"),
    ("_operator", "attribute and method gadgets"),
    ("functools", "partial / reduce call gadgets"),
    ("_functools", "partial / reduce call gadgets"),
    ("torch._inductor", "compiles and loads code"),
    ("torch.jit", "compiles and runs TorchScript / Python"),
    ("torch._dynamo", "evaluates guard code"),
    ("torch.fx", "evaluates generated code"),
    ("torch.utils.bottleneck", "runs profilers over code"),
    ("torch.utils.collect_env", "runs commands"),
    ("torch.utils.data.datapipes", "decoders that load pickles"),
    ("torch.utils._config_module", "loads pickled config"),
    (
        "torch.utils.cpp_extension",
        "compiles and loads native code",
    ),
    ("torch.serialization", "nested torch.load"),
    ("torch.hub", "downloads and runs code"),
    ("torch.package", "imports packaged code"),
    ("torch.storage._load_from_bytes", "nested torch.load"),
    ("torch._C", "native internals"),
    ("torch.ops", "native operators"),
    ("numpy.f2py", "compiles and runs Fortran/C"),
    ("numpy.testing", "runs code"),
    ("numpy.distutils", "builds code"),
    ("numpy.load", "nested loading with pickles"),
    ("numpy.lib.npyio", "nested loading with pickles"),
    ("uuid._get_command_stdout", "runs commands"),
    ("keras.models.load_model", "nested model loading"),
    ("tensorflow.io", "file access"),
    ("tensorflow.keras.models", "nested model loading"),
];

/// Dangerous members of otherwise harmless modules.
const DANGEROUS_NAMES: &[(&str, &[&str], &str)] = &[
    (
        "builtins",
        &[
            "eval",
            "exec",
            "execfile",
            "compile",
            "open",
            "getattr",
            "setattr",
            "delattr",
            "__import__",
            "globals",
            "locals",
            "vars",
            "input",
            "breakpoint",
            "apply",
            "file",
            "reload",
            "help",
            "exit",
            "quit",
            "memoryview",
            "type",
            "super",
            "classmethod",
            "staticmethod",
            "property",
            "__build_class__",
            "print",
        ],
        "builtin that runs code, reaches attributes or opens files",
    ),
    ("collections", &["_collections_abc"], "module traversal"),
    (
        "copyreg",
        &["_reconstructor_from_state"],
        "object construction gadget",
    ),
];

/// Python 2 → 3 module renames the unpickler applies for protocol < 3.
const PY2_MODULES: &[(&str, &str)] = &[
    ("__builtin__", "builtins"),
    ("exceptions", "builtins"),
    ("copy_reg", "copyreg"),
    ("cPickle", "pickle"),
    ("httplib", "http.client"),
    ("urllib2", "urllib.request"),
    ("Queue", "queue"),
    ("SocketServer", "socketserver"),
    ("commands", "subprocess"),
    ("UserDict", "collections"),
    ("UserList", "collections"),
    ("thread", "_thread"),
    ("dummy_thread", "_dummy_thread"),
    ("Tkinter", "tkinter"),
    ("cStringIO", "io"),
    ("StringIO", "io"),
    ("urlparse", "urllib.parse"),
    ("xmlrpclib", "xmlrpc.client"),
];

/// Normalises a module name the way CPython's `fix_imports` does.
pub fn normalize_module(module: &str) -> &str {
    PY2_MODULES
        .iter()
        .find(|(old, _)| *old == module)
        .map(|(_, new)| *new)
        .unwrap_or(module)
}

fn module_matches(module: &str, prefix: &str) -> bool {
    module == prefix
        || (module.len() > prefix.len()
            && module.starts_with(prefix)
            && module.as_bytes()[prefix.len()] == b'.')
}

/// Judges one import `module` / `name` (name may be dotted).
pub fn classify(module: &str, name: &str) -> Verdict {
    let module = normalize_module(module);
    // Allow-list first: exact pairs only, no attribute chains beyond the entry.
    if ALLOWED
        .iter()
        .any(|(m, names)| *m == module && names.contains(&name))
    {
        return Verdict::Allowed;
    }
    if name
        .split('.')
        .any(|part| part.starts_with("__") && part.ends_with("__") && part.len() > 4)
        && !(module == "builtins" && name == "__import__")
    {
        return Verdict::Dangerous("dunder attribute traversal reaches interpreter internals");
    }
    // The full dotted path `module.name` also catches a module passed in the
    // name (`GLOBAL 'torch' 'utils.collect_env.run'`).
    let full = format!("{module}.{name}");
    for (prefix, reason) in DANGEROUS_MODULES {
        if module_matches(module, prefix) || module_matches(&full, prefix) {
            return Verdict::Dangerous(reason);
        }
    }
    let first = name.split('.').next().unwrap_or(name);
    for (m, names, reason) in DANGEROUS_NAMES {
        if *m == module && (names.contains(&name) || names.contains(&first)) {
            return Verdict::Dangerous(reason);
        }
    }
    Verdict::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_wins_only_for_exact_pairs() {
        assert_eq!(classify("collections", "OrderedDict"), Verdict::Allowed);
        assert_eq!(
            classify("torch._utils", "_rebuild_tensor_v2"),
            Verdict::Allowed
        );
        assert!(matches!(
            classify("collections", "OrderedDict.__init__.__globals__"),
            Verdict::Dangerous(_)
        ));
        assert_eq!(
            classify("collections", "OrderedDict.fromkeys"),
            Verdict::Unknown
        );
    }

    #[test]
    fn dangerous_modules_and_names() {
        for (m, n) in [
            ("os", "system"),
            ("posix", "system"),
            ("__builtin__", "eval"),
            ("builtins", "getattr"),
            ("subprocess", "Popen"),
            ("torch.utils.bottleneck.__main__", "run_cprofile"),
            ("torch", "utils.collect_env.run"),
            ("functools", "partial"),
            ("_operator", "attrgetter"),
            ("numpy.f2py.crackfortran", "getlincoef"),
            ("builtins", "__import__"),
        ] {
            assert!(matches!(classify(m, n), Verdict::Dangerous(_)), "{m}.{n}");
        }
    }

    #[test]
    fn unknown_is_suspicious() {
        assert_eq!(classify("mylib.layers", "Dense"), Verdict::Unknown);
        assert_eq!(classify("42", "os"), Verdict::Unknown);
        assert_eq!(Verdict::Unknown.severity(), Some(Severity::High));
        // A module that merely starts like a dangerous one is not matched.
        assert_eq!(classify("osmosis", "x"), Verdict::Unknown);
    }
}
