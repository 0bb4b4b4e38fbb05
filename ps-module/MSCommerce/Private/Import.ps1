# What the import runs, and nothing more: find the native library (a missing one fails the import
# with a message saying how to get one), and load the rest of the module's private code at the
# first call of a public function (Import-MSCommercePrivateScript).
#
# Why so little, and why plain functions here: an import is paid by every script that names the
# module, by profiles, tab completion and Get-Help, most of which never call the service. In a
# fresh process, the import's cost is PowerShell parsing the module's code and warming up what it
# runs: the private scripts are two thirds of the code, and the first call of an advanced function
# ([CmdletBinding()]: common parameters, parameter binder) costs tens of milliseconds that the
# first real command pays anyway (benches/module-import.sh measures the import side by side with
# a bare start). The public functions and the argument completers must be defined at import.

function Get-MSCommerceRuntimeIdentifier {
    <#
    .SYNOPSIS
    The runtime identifier (win-x64, linux-arm64, ...) and library file name of this process.
    #>
    param()

    # Windows PowerShell 5.1 has no $IsWindows/$IsLinux/$IsMacOS: there, it is Windows. An absent
    # variable reads as $null, with no error in $Error: the module's scope has strict mode off.
    # Short, with plain variables and operators: this runs at import, where each new kind of .NET
    # call and each line of a function called the first time cost (benches/module-import.sh).
    if ($null -eq $IsWindows -or $IsWindows) {
        $os, $fileName = 'win', 'mscommerce.dll'
    }
    elseif ($IsMacOS) {
        $os, $fileName = 'osx', 'libmscommerce.dylib'
    }
    else {
        $os, $fileName = 'linux', 'libmscommerce.so'
    }

    # RuntimeInformation exists on .NET Framework 4.7.1+ and every .NET (Core); older Windows
    # PowerShell hosts fall back to the pointer size and the process's PROCESSOR_ARCHITECTURE.
    $architecture = $null
    $runtimeInformation = 'System.Runtime.InteropServices.RuntimeInformation' -as [type]
    if ($null -ne $runtimeInformation) {
        $architecture = [string]$runtimeInformation::ProcessArchitecture
    }
    if (-not $architecture) {
        if ($env:PROCESSOR_ARCHITECTURE -eq 'ARM64') {
            $architecture = 'Arm64'
        }
        elseif ([Environment]::Is64BitProcess) {
            $architecture = 'X64'
        }
        else {
            $architecture = 'X86'
        }
    }

    $arch = switch ($architecture) {
        'X64' { 'x64' }
        'X86' { 'x86' }
        'Arm64' { 'arm64' }
        'Arm' { 'arm' }
        default { "$architecture".ToLowerInvariant() }
    }
    @{
        Rid          = "$os-$arch"
        OS           = $os
        Architecture = $arch
        FileName     = $fileName
    }
}

function Resolve-MSCommerceFileSystemPath {
    <#
    .SYNOPSIS
    A path a user gave (an environment variable, a baseline file's -Path or -OutFile), made
    absolute against PowerShell's current location.

    .DESCRIPTION
    .NET (System.IO.File, and the native library) resolves a relative path against the process's
    working directory, which Set-Location does not change; users mean $PWD. Defined at import: the
    library's location may come from $env:MSCOMMERCE_NATIVE_LIBRARY. A path that cannot be
    resolved that way (the current location is not a file system drive) is returned as given.
    #>
    param(
        [string] $Path
    )

    if ([System.IO.Path]::IsPathRooted($Path)) {
        return $Path
    }
    $provider = $null
    $drive = $null
    try {
        $resolved = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path, [ref] $provider, [ref] $drive)
    }
    catch {
        return $Path
    }
    if ($null -ne $provider -and $provider.Name -eq 'FileSystem') {
        return $resolved
    }
    $Path
}

function Resolve-MSCommerceNativeLibrary {
    <#
    .SYNOPSIS
    The absolute path of the native library: runtimes/<rid>/native/<file> under the module folder,
    or the file named by $env:MSCOMMERCE_NATIVE_LIBRARY (for development and tests).
    #>
    param(
        [string] $ModuleRoot
    )

    $runtime = Get-MSCommerceRuntimeIdentifier
    if (-not [string]::IsNullOrEmpty($env:MSCOMMERCE_NATIVE_LIBRARY)) {
        $candidate = Resolve-MSCommerceFileSystemPath -Path $env:MSCOMMERCE_NATIVE_LIBRARY
        $source = 'the MSCOMMERCE_NATIVE_LIBRARY environment variable'
    }
    else {
        $candidate = [System.IO.Path]::Combine($ModuleRoot, 'runtimes', $runtime.Rid, 'native', $runtime.FileName)
        $source = "the module folder (runtimes/$($runtime.Rid)/native)"
    }

    if (-not [System.IO.File]::Exists($candidate)) {
        throw (New-MSCommerceLibraryNotFoundException -ModuleRoot $ModuleRoot -Runtime $runtime -Path $candidate -Source $source)
    }
    [System.IO.Path]::GetFullPath($candidate)
}

function New-MSCommerceLibraryNotFoundException {
    <#
    .SYNOPSIS
    Why the native library is missing and how to get one. (Its own function: a function's whole
    body is compiled at its first call, and this one is needed only when the import fails.)
    #>
    [CmdletBinding()]
    [OutputType([System.IO.FileNotFoundException])]
    param(
        [Parameter(Mandatory = $true)]
        [string] $ModuleRoot,

        [Parameter(Mandatory = $true)]
        [hashtable] $Runtime,

        [Parameter(Mandatory = $true)]
        [string] $Path,

        [Parameter(Mandatory = $true)]
        [string] $Source
    )

    $message = "MSCommerce: the native library for this platform ($($Runtime.Rid)) was not found at '$Path', named by $Source. "
    $runtimes = [System.IO.Path]::Combine($ModuleRoot, 'runtimes')
    if ($Source -ne 'the MSCOMMERCE_NATIVE_LIBRARY environment variable' -and [System.IO.Directory]::Exists($runtimes) -and
        -not [System.IO.Directory]::Exists([System.IO.Path]::Combine($runtimes, $Runtime.Rid))) {
        # A package built elsewhere (the release zip ships Linux x64 and Windows x64/x86).
        $shipped = @([System.IO.Directory]::GetDirectories($runtimes) | ForEach-Object { [System.IO.Path]::GetFileName($_) } | Sort-Object)
        $message += "This copy of the module ships no library for $($Runtime.Rid) (it has: $($shipped -join ', ')). " +
            "Build one on this machine from the source with ./build.sh (macOS, Linux; needs Rust) or build.ps1 (Windows), " +
            'then import the module it stages, or set MSCOMMERCE_NATIVE_LIBRARY to the full path of the built library.'
    }
    else {
        $message += "Build the library and stage the module with build.ps1 or build.sh (they copy $($Runtime.FileName) into runtimes/$($Runtime.Rid)/native/), " +
            'or set MSCOMMERCE_NATIVE_LIBRARY to the full path of a built library.'
    }
    New-Object System.IO.FileNotFoundException -ArgumentList $message, $Path
}

function Initialize-MSCommerceNative {
    <#
    .SYNOPSIS
    At import: finds the native library (a missing one fails the import); loads nothing yet.

    .DESCRIPTION
    The shim, the library and the native session are opened by the first call that needs them
    (Get-MSCommerceNativeSession): an import that only completes a parameter, shows help or lists
    the commands costs no native load (~0.1-0.25 s in a fresh process, benches/module-import.sh).
    #>
    param(
        [string] $ModuleRoot
    )

    $script:MSCommerceModuleRoot = $ModuleRoot
    $script:MSCommerceLibraryPath = Resolve-MSCommerceNativeLibrary -ModuleRoot $ModuleRoot
    $script:MSCommerceAbiVersion = $null
    $script:MSCommerceSession = $null
    $script:MSCommerceSessionClosed = $false
}

function Import-MSCommercePrivateScript {
    <#
    .SYNOPSIS
    Loads the module's private scripts (Private/, as listed in MSCommerce.psm1) once per import.

    .DESCRIPTION
    Called first by every public function (through Use-MSCommerceCallerPreference). The scripts run
    in this function's scope: they declare their functions as function script:Name so that the
    functions live in the module's scope, where every function of the module sees them, and set
    their variables as $script:Name for the same reason.
    #>
    if ($script:MSCommercePrivateScriptsLoaded) {
        return
    }
    foreach ($scriptName in $script:MSCommercePrivateScripts) {
        . ([System.IO.Path]::Combine($script:MSCommerceModuleRoot, 'Private', $scriptName))
    }
    $script:MSCommercePrivateScriptsLoaded = $true
}
