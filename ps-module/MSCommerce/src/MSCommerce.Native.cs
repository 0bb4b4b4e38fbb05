// MSCommerce.Native: the shim between the MSCommerce PowerShell module and the native library
// (mscommerce.dll / libmscommerce.so / libmscommerce.dylib), whose C ABI is described in
// include/mscommerce.h.
//
// Shipped precompiled as bin/MSCommerce.Native.dll: build.sh and build.ps1 compile this file with
// `mcs -noconfig -langversion:5 -target:library -r:System.dll -warnaserror+` (build.ps1 without
// mcs: Add-Type -OutputAssembly or the .NET Framework's csc). One assembly for Windows PowerShell
// 5.1 (.NET Framework 4.x, x64 and x86), PowerShell 7 (.NET 8/10 on Windows, Linux, macOS) and
// Mono. In a source checkout without it, Private/Native.ps1 compiles this same file with Add-Type.
//
// No library path is baked in. At import the module calls NativeMethods.Load(absolutePath) once:
// the library is opened by that path (LoadLibraryExW on Windows; dlopen from libdl.so.2, else
// libc.so.6, on Linux; from libSystem.dylib on macOS), each export is looked up by name
// (GetProcAddress / dlsym) and called through a Cdecl delegate (Marshal.GetDelegateForFunctionPointer).
//
// Rules (checked by tests/powershell):
// - C# 5 only: Windows PowerShell 5.1's Add-Type compiles C# 5. No getter-only auto-properties,
//   no string interpolation, no nameof, no null-conditional operators, no expression-bodied members.
// - One delegate type per C ABI export, named exactly as the export, [UnmanagedFunctionPointer]
//   Cdecl. The OS loader's imports: StdCall (kernel32) or Cdecl (libdl/libc/libSystem).
// - No string, StringBuilder or char in a delegate or P/Invoke signature: strings go in as
//   NUL-terminated byte arrays (UTF-8 for the library and dlopen, UTF-16 for LoadLibraryExW, ASCII
//   for export names) and come back as IntPtr, decoded by hand; the library's answers are freed
//   with msc_string_free in finally (the runtime's default string marshalling is ANSI on Windows,
//   which corrupts non-ASCII text, and a returned string would be freed by the wrong allocator).
// - Only APIs that .NET Framework 4.5 has (no Marshal.PtrToStringUTF8 or its inverse, no
//   NativeLibrary, no RuntimeInformation).

namespace MSCommerce.Native
{
    using System;
    using System.ComponentModel;
    using System.IO;
    using System.Runtime.InteropServices;
    using System.Text;
    using System.Threading;

    /// <summary>
    /// The C ABI, bound at run time to the library that <see cref="Load"/> opened by its absolute path.
    /// </summary>
    public static class NativeMethods
    {
        /// <summary>The ABI version this shim was written for.</summary>
        public const int ExpectedAbiVersion = 1;

        // dlopen: RTLD_NOW is 2 on Linux and macOS.
        private const int RtldNow = 2;

        // LoadLibraryExW: with an absolute path, look for the library's own dependencies beside it
        // (what a DllImport of an absolute path does on .NET Framework).
        private const uint LoadWithAlteredSearchPath = 0x00000008;

        private static readonly object gate = new object();
        private static volatile string loadedPath;

        private static Exports.msc_version mscVersion;
        private static Exports.msc_abi_version mscAbiVersion;
        private static Exports.msc_session_new mscSessionNew;
        private static Exports.msc_session_free mscSessionFree;
        private static Exports.msc_connect mscConnect;
        private static Exports.msc_get mscGet;
        private static Exports.msc_update mscUpdate;
        private static Exports.msc_disconnect mscDisconnect;
        private static Exports.msc_string_free mscStringFree;

        private enum Loader
        {
            Kernel32,
            LibDl,
            LibC,
            LibSystem
        }

        /// <summary>The C ABI's functions: one delegate type per export, named exactly as the export.</summary>
        public static class Exports
        {
            [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
            public delegate IntPtr msc_version();

            [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
            public delegate int msc_abi_version();

            [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
            public delegate int msc_session_new(byte[] optionsJson, out IntPtr session, out IntPtr json);

            [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
            public delegate void msc_session_free(IntPtr session);

            [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
            public delegate int msc_connect(IntPtr session, byte[] requestJson, out IntPtr json);

            [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
            public delegate int msc_get(IntPtr session, byte[] requestJson, out IntPtr json);

            [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
            public delegate int msc_update(IntPtr session, byte[] requestJson, out IntPtr json);

            [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
            public delegate int msc_disconnect(IntPtr session);

            [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
            public delegate void msc_string_free(IntPtr s);
        }

        /// <summary>Windows: the loader of kernel32 (StdCall, the WINAPI convention on x86).</summary>
        private static class Kernel32
        {
            [DllImport("kernel32.dll", EntryPoint = "LoadLibraryExW", CallingConvention = CallingConvention.StdCall, ExactSpelling = true, SetLastError = true)]
            public static extern IntPtr LoadLibraryExW(byte[] utf16FileName, IntPtr reserved, uint flags);

            [DllImport("kernel32.dll", EntryPoint = "GetProcAddress", CallingConvention = CallingConvention.StdCall, ExactSpelling = true, SetLastError = true)]
            public static extern IntPtr GetProcAddress(IntPtr module, byte[] asciiName);

            [DllImport("kernel32.dll", EntryPoint = "FreeLibrary", CallingConvention = CallingConvention.StdCall, ExactSpelling = true, SetLastError = true)]
            public static extern int FreeLibrary(IntPtr module);
        }

        /// <summary>Linux (glibc; musl maps the name to itself): dlopen from libdl.</summary>
        private static class LibDl
        {
            [DllImport("libdl.so.2", EntryPoint = "dlopen", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
            public static extern IntPtr dlopen(byte[] utf8FileName, int flags);

            [DllImport("libdl.so.2", EntryPoint = "dlsym", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
            public static extern IntPtr dlsym(IntPtr library, byte[] asciiName);

            [DllImport("libdl.so.2", EntryPoint = "dlclose", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
            public static extern int dlclose(IntPtr library);

            [DllImport("libdl.so.2", EntryPoint = "dlerror", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
            public static extern IntPtr dlerror();
        }

        /// <summary>Linux without libdl.so.2 (glibc 2.34 and later have dlopen in libc).</summary>
        private static class LibC
        {
            [DllImport("libc.so.6", EntryPoint = "dlopen", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
            public static extern IntPtr dlopen(byte[] utf8FileName, int flags);

            [DllImport("libc.so.6", EntryPoint = "dlsym", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
            public static extern IntPtr dlsym(IntPtr library, byte[] asciiName);

            [DllImport("libc.so.6", EntryPoint = "dlclose", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
            public static extern int dlclose(IntPtr library);

            [DllImport("libc.so.6", EntryPoint = "dlerror", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
            public static extern IntPtr dlerror();
        }

        /// <summary>macOS: dlopen from libSystem.</summary>
        private static class LibSystem
        {
            [DllImport("libSystem.dylib", EntryPoint = "dlopen", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
            public static extern IntPtr dlopen(byte[] utf8FileName, int flags);

            [DllImport("libSystem.dylib", EntryPoint = "dlsym", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
            public static extern IntPtr dlsym(IntPtr library, byte[] asciiName);

            [DllImport("libSystem.dylib", EntryPoint = "dlclose", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
            public static extern int dlclose(IntPtr library);

            [DllImport("libSystem.dylib", EntryPoint = "dlerror", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
            public static extern IntPtr dlerror();
        }

        /// <summary>The absolute path the library was loaded from; null until Load succeeds.</summary>
        public static string LibraryPath
        {
            get { return loadedPath; }
        }

        /// <summary>True once Load has succeeded.</summary>
        public static bool IsLoaded
        {
            get { return loadedPath != null; }
        }

        /// <summary>
        /// Opens the native library at an absolute path and binds every export of the C ABI. Once
        /// per process: when a library is already loaded, loads nothing and returns the path in use
        /// (the caller compares it with the one it asked for). Returns the path loaded.
        /// </summary>
        public static string Load(string path)
        {
            if (string.IsNullOrEmpty(path))
            {
                throw new ArgumentNullException("path", "MSCommerce: the native library's path is empty.");
            }
            if (!Path.IsPathRooted(path))
            {
                throw new ArgumentException("MSCommerce: the native library's path must be absolute: '" + path + "'.", "path");
            }
            lock (gate)
            {
                string loaded = loadedPath;
                if (loaded != null)
                {
                    return loaded;
                }
                Loader loader;
                IntPtr library = Open(path, out loader);
                try
                {
                    Exports.msc_version version = (Exports.msc_version)Bind(loader, library, path, typeof(Exports.msc_version));
                    Exports.msc_abi_version abiVersion = (Exports.msc_abi_version)Bind(loader, library, path, typeof(Exports.msc_abi_version));
                    Exports.msc_session_new sessionNew = (Exports.msc_session_new)Bind(loader, library, path, typeof(Exports.msc_session_new));
                    Exports.msc_session_free sessionFree = (Exports.msc_session_free)Bind(loader, library, path, typeof(Exports.msc_session_free));
                    Exports.msc_connect connect = (Exports.msc_connect)Bind(loader, library, path, typeof(Exports.msc_connect));
                    Exports.msc_get get = (Exports.msc_get)Bind(loader, library, path, typeof(Exports.msc_get));
                    Exports.msc_update update = (Exports.msc_update)Bind(loader, library, path, typeof(Exports.msc_update));
                    Exports.msc_disconnect disconnect = (Exports.msc_disconnect)Bind(loader, library, path, typeof(Exports.msc_disconnect));
                    Exports.msc_string_free stringFree = (Exports.msc_string_free)Bind(loader, library, path, typeof(Exports.msc_string_free));
                    mscVersion = version;
                    mscAbiVersion = abiVersion;
                    mscSessionNew = sessionNew;
                    mscSessionFree = sessionFree;
                    mscConnect = connect;
                    mscGet = get;
                    mscUpdate = update;
                    mscDisconnect = disconnect;
                    mscStringFree = stringFree;
                }
                catch
                {
                    Close(loader, library);
                    throw;
                }
                loadedPath = path;
                return path;
            }
        }

        public static IntPtr msc_version()
        {
            return Bound(mscVersion)();
        }

        public static int msc_abi_version()
        {
            return Bound(mscAbiVersion)();
        }

        public static int msc_session_new(byte[] optionsJson, out IntPtr session, out IntPtr json)
        {
            return Bound(mscSessionNew)(optionsJson, out session, out json);
        }

        public static void msc_session_free(IntPtr session)
        {
            Bound(mscSessionFree)(session);
        }

        public static int msc_connect(IntPtr session, byte[] requestJson, out IntPtr json)
        {
            return Bound(mscConnect)(session, requestJson, out json);
        }

        public static int msc_get(IntPtr session, byte[] requestJson, out IntPtr json)
        {
            return Bound(mscGet)(session, requestJson, out json);
        }

        public static int msc_update(IntPtr session, byte[] requestJson, out IntPtr json)
        {
            return Bound(mscUpdate)(session, requestJson, out json);
        }

        public static int msc_disconnect(IntPtr session)
        {
            return Bound(mscDisconnect)(session);
        }

        public static void msc_string_free(IntPtr s)
        {
            Bound(mscStringFree)(s);
        }

        private static T Bound<T>(T function) where T : class
        {
            if (function == null)
            {
                throw new InvalidOperationException("MSCommerce: the native library is not loaded: call MSCommerce.Native.NativeMethods.Load with its absolute path first.");
            }
            return function;
        }

        private static bool OnWindows()
        {
            PlatformID platform = Environment.OSVersion.Platform;
            return platform != PlatformID.Unix && platform != PlatformID.MacOSX;
        }

        private static IntPtr Open(string path, out Loader loader)
        {
            if (OnWindows())
            {
                loader = Loader.Kernel32;
                byte[] utf16 = Encoding.Unicode.GetBytes(path + "\0");
                IntPtr module = Kernel32.LoadLibraryExW(utf16, IntPtr.Zero, LoadWithAlteredSearchPath);
                if (module == IntPtr.Zero)
                {
                    int error = Marshal.GetLastWin32Error();
                    throw new DllNotFoundException("MSCommerce: could not load the native library '" + path + "': " +
                        new Win32Exception(error).Message + " (error " + error + ").");
                }
                return module;
            }

            byte[] utf8 = Utf8.ToNative(path);
            Exception unavailable = null;
            Loader[] candidates = new Loader[] { Loader.LibDl, Loader.LibC, Loader.LibSystem };
            foreach (Loader candidate in candidates)
            {
                try
                {
                    // Binds dlerror (the runtime's own dlopen/dlsym of the loader happen now, not
                    // between our dlopen and dlerror) and clears any earlier error of this thread.
                    DlError(candidate);
                }
                catch (DllNotFoundException e)
                {
                    unavailable = e;
                    continue;
                }
                catch (EntryPointNotFoundException e)
                {
                    unavailable = e;
                    continue;
                }
                loader = candidate;
                IntPtr library = DlOpen(candidate, utf8);
                if (library == IntPtr.Zero)
                {
                    string detail = DlError(candidate);
                    throw new DllNotFoundException("MSCommerce: could not load the native library '" + path + "': " +
                        (detail == null ? "dlopen failed" : detail) + ".");
                }
                return library;
            }
            throw new DllNotFoundException("MSCommerce: found no dlopen (in libdl.so.2, libc.so.6 or libSystem.dylib) to load '" + path + "'.", unavailable);
        }

        private static Delegate Bind(Loader loader, IntPtr library, string path, Type function)
        {
            string name = function.Name;
            byte[] ascii = Encoding.ASCII.GetBytes(name + "\0");
            IntPtr address;
            switch (loader)
            {
                case Loader.Kernel32:
                    address = Kernel32.GetProcAddress(library, ascii);
                    break;
                case Loader.LibDl:
                    address = LibDl.dlsym(library, ascii);
                    break;
                case Loader.LibC:
                    address = LibC.dlsym(library, ascii);
                    break;
                default:
                    address = LibSystem.dlsym(library, ascii);
                    break;
            }
            if (address == IntPtr.Zero)
            {
                throw new EntryPointNotFoundException("MSCommerce: the library '" + path + "' does not export " + name +
                    ": it is not the MSCommerce native library (build it with build.ps1 or build.sh).");
            }
            return Marshal.GetDelegateForFunctionPointer(address, function);
        }

        private static IntPtr DlOpen(Loader loader, byte[] utf8Path)
        {
            switch (loader)
            {
                case Loader.LibDl:
                    return LibDl.dlopen(utf8Path, RtldNow);
                case Loader.LibC:
                    return LibC.dlopen(utf8Path, RtldNow);
                default:
                    return LibSystem.dlopen(utf8Path, RtldNow);
            }
        }

        private static string DlError(Loader loader)
        {
            IntPtr message;
            switch (loader)
            {
                case Loader.LibDl:
                    message = LibDl.dlerror();
                    break;
                case Loader.LibC:
                    message = LibC.dlerror();
                    break;
                default:
                    message = LibSystem.dlerror();
                    break;
            }
            // Owned by the C library: decoded, never freed.
            return Utf8.FromNative(message);
        }

        private static void Close(Loader loader, IntPtr library)
        {
            switch (loader)
            {
                case Loader.Kernel32:
                    Kernel32.FreeLibrary(library);
                    break;
                case Loader.LibDl:
                    LibDl.dlclose(library);
                    break;
                case Loader.LibC:
                    LibC.dlclose(library);
                    break;
                default:
                    LibSystem.dlclose(library);
                    break;
            }
        }
    }

    /// <summary>UTF-8 conversions for the C ABI's strings.</summary>
    public static class Utf8
    {
        /// <summary>NUL-terminated UTF-8 bytes of a string (null stays null).</summary>
        public static byte[] ToNative(string value)
        {
            if (value == null)
            {
                return null;
            }
            byte[] body = Encoding.UTF8.GetBytes(value);
            byte[] result = new byte[body.Length + 1];
            Buffer.BlockCopy(body, 0, result, 0, body.Length);
            result[body.Length] = 0;
            return result;
        }

        /// <summary>Decodes a NUL-terminated UTF-8 string; does not free it.</summary>
        public static string FromNative(IntPtr value)
        {
            if (value == IntPtr.Zero)
            {
                return null;
            }
            int length = 0;
            while (Marshal.ReadByte(value, length) != 0)
            {
                length++;
            }
            byte[] bytes = new byte[length];
            if (length > 0)
            {
                Marshal.Copy(value, bytes, 0, length);
            }
            return Encoding.UTF8.GetString(bytes);
        }

        /// <summary>Decodes a string the library allocated and frees it with msc_string_free.</summary>
        public static string TakeNative(IntPtr value)
        {
            if (value == IntPtr.Zero)
            {
                return null;
            }
            try
            {
                return FromNative(value);
            }
            finally
            {
                NativeMethods.msc_string_free(value);
            }
        }
    }

    /// <summary>
    /// JSON text of the module's request values: null, strings, booleans, numbers, dictionaries
    /// (keys as strings) and lists, nested. Used at import for the session options: it is compiled
    /// ahead of time, where PowerShell 7's System.Text.Json costs ~0.2 s of JIT in a fresh process
    /// and ConvertTo-Json would load Microsoft.PowerShell.Utility.
    /// </summary>
    public static class Json
    {
        /// <summary>The JSON text of <paramref name="value"/>; nesting deeper than 16 is refused.</summary>
        public static string Serialize(object value)
        {
            StringBuilder text = new StringBuilder();
            Write(text, value, 0);
            return text.ToString();
        }

        private static void Write(StringBuilder text, object value, int depth)
        {
            if (depth > 16)
            {
                throw new ArgumentException("The value is nested more than 16 levels deep.");
            }
            if (value == null || value is DBNull)
            {
                text.Append("null");
                return;
            }
            // PowerShell hands values over wrapped in PSObject; its BaseObject is the value.
            Type type = value.GetType();
            if (type.FullName == "System.Management.Automation.PSObject")
            {
                Write(text, type.GetProperty("BaseObject").GetValue(value, null), depth);
                return;
            }
            string s = value as string;
            if (s != null)
            {
                WriteString(text, s);
                return;
            }
            if (value is char)
            {
                WriteString(text, value.ToString());
                return;
            }
            if (value is bool)
            {
                text.Append((bool)value ? "true" : "false");
                return;
            }
            if (value is int || value is long || value is short || value is byte || value is sbyte
                || value is uint || value is ulong || value is ushort || value is decimal)
            {
                text.Append(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
                return;
            }
            if (value is double || value is float)
            {
                double number = Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture);
                if (double.IsNaN(number) || double.IsInfinity(number))
                {
                    throw new ArgumentException("NaN and infinity have no JSON form.");
                }
                text.Append(number.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
                return;
            }
            System.Collections.IDictionary dictionary = value as System.Collections.IDictionary;
            if (dictionary != null)
            {
                text.Append('{');
                bool first = true;
                foreach (System.Collections.DictionaryEntry entry in dictionary)
                {
                    if (!first)
                    {
                        text.Append(',');
                    }
                    first = false;
                    WriteString(text, Convert.ToString(entry.Key, System.Globalization.CultureInfo.InvariantCulture));
                    text.Append(':');
                    Write(text, entry.Value, depth + 1);
                }
                text.Append('}');
                return;
            }
            System.Collections.IEnumerable list = value as System.Collections.IEnumerable;
            if (list != null)
            {
                text.Append('[');
                bool first = true;
                foreach (object item in list)
                {
                    if (!first)
                    {
                        text.Append(',');
                    }
                    first = false;
                    Write(text, item, depth + 1);
                }
                text.Append(']');
                return;
            }
            throw new ArgumentException("A value of type " + type.FullName + " has no JSON form here.");
        }

        private static void WriteString(StringBuilder text, string value)
        {
            text.Append('"');
            foreach (char c in value)
            {
                switch (c)
                {
                    case '"': text.Append("\\\""); break;
                    case '\\': text.Append("\\\\"); break;
                    case '\n': text.Append("\\n"); break;
                    case '\r': text.Append("\\r"); break;
                    case '\t': text.Append("\\t"); break;
                    default:
                        if (c < ' ' || c == '\u2028' || c == '\u2029')
                        {
                            text.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
                        }
                        else
                        {
                            text.Append(c);
                        }
                        break;
                }
            }
            text.Append('"');
        }
    }

    /// <summary>The process's environment variables, as PowerShell's $env: sees them.</summary>
    public static class ProcessEnvironment
    {
        /// <summary>
        /// The variables whose names match <paramref name="namePattern"/> (case-insensitive), by
        /// name compared ordinally (on Linux HTTP_PROXY and http_proxy are two variables). Compiled
        /// ahead of time: the same loop in PowerShell costs ~30 ms of JIT at import.
        /// </summary>
        public static System.Collections.Generic.Dictionary<string, string> Snapshot(string namePattern)
        {
            System.Text.RegularExpressions.Regex names = new System.Text.RegularExpressions.Regex(
                namePattern,
                System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant);
            System.Collections.Generic.Dictionary<string, string> snapshot =
                new System.Collections.Generic.Dictionary<string, string>(StringComparer.Ordinal);
            foreach (System.Collections.DictionaryEntry variable in Environment.GetEnvironmentVariables())
            {
                string name = variable.Key as string;
                if (name != null && names.IsMatch(name))
                {
                    snapshot[name] = variable.Value as string ?? string.Empty;
                }
            }
            return snapshot;
        }
    }

    /// <summary>The return code and JSON answer of one native call.</summary>
    public sealed class NativeResult
    {
        private readonly int code;
        private readonly string json;

        public NativeResult(int code, string json)
        {
            this.code = code;
            this.json = json;
        }

        /// <summary>The C ABI return code (0 OK, 1 InvalidArgument, ..., 10 Pending, 11 Internal).</summary>
        public int Code
        {
            get { return this.code; }
        }

        /// <summary>The JSON answer: {"value":...,"log":[...]} or {"error":{...},"log":[...]}.</summary>
        public string Json
        {
            get { return this.json; }
        }
    }

    /// <summary>
    /// One native session. Calls may run on several threads at once; Dispose waits for the calls
    /// in flight and then frees the session, so msc_session_free never races with a call.
    /// </summary>
    public sealed class NativeSession : IDisposable
    {
        private readonly object gate = new object();
        private IntPtr handle;
        private int busy;
        private bool closing;

        private NativeSession(IntPtr handle)
        {
            this.handle = handle;
        }

        /// <summary>The library's version string, e.g. "0.1.0".</summary>
        public static string LibraryVersion()
        {
            return Utf8.FromNative(NativeMethods.msc_version());
        }

        /// <summary>The library's ABI version (1 for the contract this shim implements).</summary>
        public static int AbiVersion()
        {
            return NativeMethods.msc_abi_version();
        }

        /// <summary>
        /// Creates a session from the options JSON. On failure returns null and sets
        /// <paramref name="result"/> to the error answer.
        /// </summary>
        public static NativeSession Create(string optionsJson, out NativeResult result)
        {
            IntPtr session = IntPtr.Zero;
            IntPtr json = IntPtr.Zero;
            int code = NativeMethods.msc_session_new(Utf8.ToNative(optionsJson == null ? "{}" : optionsJson), out session, out json);
            string text = Utf8.TakeNative(json);
            result = new NativeResult(code, text);
            if (code != 0 || session == IntPtr.Zero)
            {
                if (session != IntPtr.Zero)
                {
                    NativeMethods.msc_session_free(session);
                }
                return null;
            }
            return new NativeSession(session);
        }

        /// <summary>True until Dispose has run.</summary>
        public bool IsOpen
        {
            get
            {
                lock (this.gate)
                {
                    return this.handle != IntPtr.Zero && !this.closing;
                }
            }
        }

        /// <summary>msc_connect with a request JSON.</summary>
        public NativeResult Connect(string requestJson)
        {
            return this.Call(0, requestJson);
        }

        /// <summary>msc_get with a request JSON.</summary>
        public NativeResult Get(string requestJson)
        {
            return this.Call(1, requestJson);
        }

        /// <summary>msc_update with a request JSON.</summary>
        public NativeResult Update(string requestJson)
        {
            return this.Call(2, requestJson);
        }

        /// <summary>msc_disconnect: forgets the sign-in; the session stays usable.</summary>
        public int Disconnect()
        {
            IntPtr session = this.Enter();
            try
            {
                return NativeMethods.msc_disconnect(session);
            }
            finally
            {
                this.Leave();
            }
        }

        /// <summary>Dispatches by operation name: "connect", "get" or "update".</summary>
        public NativeResult Invoke(string operation, string requestJson)
        {
            if (string.Equals(operation, "connect", StringComparison.OrdinalIgnoreCase))
            {
                return this.Call(0, requestJson);
            }
            if (string.Equals(operation, "get", StringComparison.OrdinalIgnoreCase))
            {
                return this.Call(1, requestJson);
            }
            if (string.Equals(operation, "update", StringComparison.OrdinalIgnoreCase))
            {
                return this.Call(2, requestJson);
            }
            throw new ArgumentException("Unknown operation '" + operation + "'.", "operation");
        }

        /// <summary>Waits for the calls in flight, then frees the native session. Idempotent.</summary>
        public void Dispose()
        {
            IntPtr session;
            lock (this.gate)
            {
                if (this.handle == IntPtr.Zero || this.closing)
                {
                    return;
                }
                this.closing = true;
                while (this.busy > 0)
                {
                    Monitor.Wait(this.gate);
                }
                session = this.handle;
                this.handle = IntPtr.Zero;
            }
            NativeMethods.msc_session_free(session);
        }

        private NativeResult Call(int operation, string requestJson)
        {
            byte[] request = Utf8.ToNative(requestJson == null ? "{}" : requestJson);
            IntPtr session = this.Enter();
            IntPtr json = IntPtr.Zero;
            int code;
            try
            {
                if (operation == 0)
                {
                    code = NativeMethods.msc_connect(session, request, out json);
                }
                else if (operation == 1)
                {
                    code = NativeMethods.msc_get(session, request, out json);
                }
                else
                {
                    code = NativeMethods.msc_update(session, request, out json);
                }
            }
            finally
            {
                this.Leave();
            }
            return new NativeResult(code, Utf8.TakeNative(json));
        }

        private IntPtr Enter()
        {
            lock (this.gate)
            {
                if (this.handle == IntPtr.Zero || this.closing)
                {
                    throw new ObjectDisposedException("MSCommerce.Native.NativeSession", "The MSCommerce native session has been closed (the module was removed). Import the module again.");
                }
                this.busy++;
                return this.handle;
            }
        }

        private void Leave()
        {
            lock (this.gate)
            {
                this.busy--;
                if (this.busy == 0)
                {
                    Monitor.PulseAll(this.gate);
                }
            }
        }
    }
}
