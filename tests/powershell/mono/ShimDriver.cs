// Drives the module's compiled C# shim (MSCommerce.Native.dll) from tests/powershell/test_mono_runtime.py,
// so the real marshalling code (UTF-8 byte[] in, IntPtr out, decode, msc_string_free) runs under
// Mono against the native library and the emulator.
//
// Protocol: one command per line on stdin, fields separated by tabs, payloads base64 of UTF-8.
// One answer line per command on stdout, fields separated by tabs:
//   load <b64 absolute path>         -> 0 <b64 path in use>           (NativeMethods.Load)
//   loaded                           -> 0 <b64 NativeMethods.LibraryPath> <True|False IsLoaded>
//   version                          -> 0 <b64 version> <abi>
//   new <b64 options>                -> <code> <b64 answer>       (opens the session; frees the previous one)
//   connect|get|update <b64 request> -> <code> <b64 answer>
//   disconnect                       -> <code>
//   free                             -> 0                          (NativeSession.Dispose)
//   threads <n> <calls> <op> <b64 request>
//                                    -> 0 <codes, comma-separated> <b64 answers, comma-separated>
//   quit
// A .NET exception answers: EXC <b64 type and message>.
using System;
using System.Collections.Generic;
using System.Text;
using System.Threading;
using MSCommerce.Native;

public static class ShimDriver
{
    private static NativeSession session;

    private static string B64(string value)
    {
        return Convert.ToBase64String(Encoding.UTF8.GetBytes(value ?? ""));
    }

    private static string Unb64(string value)
    {
        return Encoding.UTF8.GetString(Convert.FromBase64String(value));
    }

    private static string Answer(NativeResult result)
    {
        return result.Code + "\t" + B64(result.Json);
    }

    private static string Threads(int count, int calls, string operation, string request)
    {
        NativeSession shared = session;
        int[] codes = new int[count * calls];
        string[] answers = new string[count * calls];
        Exception[] failures = new Exception[count];
        ManualResetEvent start = new ManualResetEvent(false);
        List<Thread> threads = new List<Thread>();
        for (int t = 0; t < count; t++)
        {
            int index = t;
            Thread thread = new Thread(delegate()
            {
                try
                {
                    start.WaitOne();
                    for (int c = 0; c < calls; c++)
                    {
                        NativeResult result = shared.Invoke(operation, request);
                        codes[index * calls + c] = result.Code;
                        answers[index * calls + c] = B64(result.Json);
                    }
                }
                catch (Exception e)
                {
                    failures[index] = e;
                }
            });
            thread.IsBackground = true;
            thread.Start();
            threads.Add(thread);
        }
        start.Set();
        foreach (Thread thread in threads)
        {
            thread.Join();
        }
        foreach (Exception failure in failures)
        {
            if (failure != null)
            {
                throw failure;
            }
        }
        string[] codeTexts = new string[codes.Length];
        for (int i = 0; i < codes.Length; i++)
        {
            codeTexts[i] = codes[i].ToString();
        }
        return "0\t" + string.Join(",", codeTexts) + "\t" + string.Join(",", answers);
    }

    private static string Handle(string[] f)
    {
        switch (f[0])
        {
            case "load":
                return "0\t" + B64(NativeMethods.Load(Unb64(f[1])));
            case "loaded":
                return "0\t" + B64(NativeMethods.LibraryPath) + "\t" + NativeMethods.IsLoaded;
            case "version":
                return "0\t" + B64(NativeSession.LibraryVersion()) + "\t" + NativeSession.AbiVersion();
            case "new":
                {
                    if (session != null)
                    {
                        session.Dispose();
                    }
                    NativeResult result;
                    session = NativeSession.Create(Unb64(f[1]), out result);
                    return Answer(result);
                }
            case "connect":
            case "get":
            case "update":
                return Answer(session.Invoke(f[0], Unb64(f[1])));
            case "disconnect":
                return session.Disconnect().ToString();
            case "free":
                session.Dispose();
                return "0";
            case "threads":
                return Threads(int.Parse(f[1]), int.Parse(f[2]), f[3], Unb64(f[4]));
            default:
                throw new ArgumentException("unknown command " + f[0]);
        }
    }

    public static int Main(string[] args)
    {
        string line;
        while ((line = Console.In.ReadLine()) != null)
        {
            if (line == "quit")
            {
                break;
            }
            string reply;
            try
            {
                reply = Handle(line.Split('\t'));
            }
            catch (Exception e)
            {
                reply = "EXC\t" + B64(e.GetType().FullName + ": " + e.Message);
            }
            Console.Out.WriteLine(reply);
            Console.Out.Flush();
        }
        if (session != null)
        {
            session.Dispose();
        }
        return 0;
    }
}
