// Reflection check of the compiled MSCommerce P/Invoke shim (tests/powershell/test_shim.py).
// Usage: mono ShimChecker.exe <assembly.dll>
// Prints one tab-separated line per P/Invoke method, per delegate type (the shim calls the C ABI
// through delegates over function pointers) and per string constant; strings that may hold any
// character are printed as base64 of their UTF-8 bytes.
//   PINVOKE  <type> <method> <entry point> <base64 library> <calling convention> <char set> <return type> <parameter types separated by ';'>
//   DELEGATE <type> <name> <calling convention of [UnmanagedFunctionPointer], or NONE> <char set> <return type> <parameter types separated by ';'>
//   CONST    <type> <field> <base64 value>
using System;
using System.Collections.Generic;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

public static class ShimChecker
{
    private static string B64(string value)
    {
        return Convert.ToBase64String(Encoding.UTF8.GetBytes(value ?? ""));
    }

    private static string Describe(ParameterInfo parameter)
    {
        string name = parameter.ParameterType.FullName;
        if (parameter.IsOut)
        {
            name = "out " + name;
        }
        return name;
    }

    private static string Signature(MethodInfo method)
    {
        List<string> parameters = new List<string>();
        foreach (ParameterInfo parameter in method.GetParameters())
        {
            parameters.Add(Describe(parameter));
        }
        return method.ReturnType.FullName + "\t" + string.Join(";", parameters.ToArray());
    }

    public static int Main(string[] args)
    {
        Assembly assembly = Assembly.LoadFrom(args[0]);
        BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        foreach (Type type in assembly.GetTypes())
        {
            if (typeof(MulticastDelegate).IsAssignableFrom(type))
            {
                UnmanagedFunctionPointerAttribute pointer = (UnmanagedFunctionPointerAttribute)Attribute.GetCustomAttribute(type, typeof(UnmanagedFunctionPointerAttribute));
                Console.WriteLine("DELEGATE\t" + type.FullName + "\t" + type.Name + "\t" +
                    (pointer == null ? "NONE\tNONE" : pointer.CallingConvention + "\t" + pointer.CharSet) + "\t" +
                    Signature(type.GetMethod("Invoke")));
                continue;
            }
            foreach (FieldInfo field in type.GetFields(all))
            {
                if (field.IsLiteral && field.FieldType == typeof(string))
                {
                    Console.WriteLine("CONST\t" + type.FullName + "\t" + field.Name + "\t" + B64((string)field.GetRawConstantValue()));
                }
            }
            foreach (MethodInfo method in type.GetMethods(all))
            {
                if ((method.Attributes & MethodAttributes.PinvokeImpl) == 0)
                {
                    continue;
                }
                DllImportAttribute import = (DllImportAttribute)Attribute.GetCustomAttribute(method, typeof(DllImportAttribute));
                if (import == null)
                {
                    Console.WriteLine("PINVOKE\t" + type.FullName + "\t" + method.Name + "\t?\t?\tNO-DLLIMPORT-ATTRIBUTE\t?\t?\t?");
                    continue;
                }
                Console.WriteLine("PINVOKE\t" + type.FullName + "\t" + method.Name + "\t" + (import.EntryPoint ?? method.Name) + "\t" +
                    B64(import.Value) + "\t" + import.CallingConvention + "\t" + import.CharSet + "\t" + Signature(method));
            }
        }
        return 0;
    }
}
