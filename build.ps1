<#
.SYNOPSIS
Builds the shipped native library of MSCommerce-rs and stages it into the PowerShell module.

.DESCRIPTION
Runs `cargo build --release --lib --no-default-features` (no emulator and no CLI inside the
library) and copies the result to ps-module/MSCommerce/runtimes/<rid>/native/, where the module
loads it from. Then compiles the module's C# shim, src/MSCommerce.Native.cs, as C# 5 into
ps-module/MSCommerce/bin/MSCommerce.Native.dll: one assembly that Windows PowerShell 5.1 (.NET
Framework 4.x) and PowerShell 7 load, so the module need not compile it at import. The compiler
is Mono's mcs where it is on PATH; else, on Windows, the .NET Framework's csc.exe
(%WINDIR%\Microsoft.NET\Framework64\v4.0.30319), else Windows PowerShell 5.1's
Add-Type -OutputAssembly. Elsewhere without mcs the shim is skipped with a warning (the module
then compiles it with Add-Type at each import). The same steps as build.sh.

Without switches it builds for the current platform: win-x64, win-x86 or win-arm64 on Windows,
linux-x64 or linux-arm64 on Linux, osx-x64 or osx-arm64 on macOS.

.PARAMETER AllArchitectures
On Windows: build win-x64, win-x86 and win-arm64 (x86_64-, i686- and aarch64-pc-windows-msvc;
the rustup targets are added when missing). 32-bit Windows PowerShell loads only the win-x86 DLL.

.PARAMETER Windows
On Linux: also cross-build win-x64 and win-x86 with mingw-w64 (x86_64- and i686-pc-windows-gnu).

.PARAMETER ShimOnly
Compile only the C# shim (bin/MSCommerce.Native.dll); no cargo.

.PARAMETER Package
Build the release package into dist/ (MSCommerce.<version>.nupkg, MSCommerce-<version>.zip,
SHA256SUMS, and the staged module dist/MSCommerce/) with tools/package.ps1. On Linux this runs
`bash build.sh package`: win-x64 and win-x86 (mingw-w64), linux-x64 and linux-arm64 (glibc 2.28),
the shim. On Windows it builds win-x64 and win-x86 (MSVC; with -AllArchitectures win-arm64 too) and the shim, and packs them
with the libraries of other platforms already in runtimes/ (copied there from a Linux build, e.g.
CI's dist/MSCommerce/runtimes); the complete release is the Linux build's. Needs
Microsoft.PowerShell.PSResourceGet (PowerShell 7.4+ has it; Windows PowerShell 5.1:
Install-Module Microsoft.PowerShell.PSResourceGet -Scope CurrentUser).

.PARAMETER PackOnly
Pack dist/MSCommerce/ as it is into dist/ (tools/package.ps1 -PackOnly): after signing its files
with Set-AuthenticodeSignature (README, "Signing").

.EXAMPLE
./build.ps1

.EXAMPLE
./build.ps1 -AllArchitectures

.EXAMPLE
./build.ps1 -ShimOnly

.EXAMPLE
./build.ps1 -Package
#>
[CmdletBinding()]
param(
    [switch] $AllArchitectures,
    [switch] $Windows,
    [switch] $ShimOnly,
    [switch] $Package,
    [switch] $PackOnly
)

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$root = $PSScriptRoot
$targetDir = $env:CARGO_TARGET_DIR
if ([string]::IsNullOrEmpty($targetDir)) {
    $targetDir = Join-Path $root 'target'
}
$moduleDir = Join-Path (Join-Path $root 'ps-module') 'MSCommerce'
$runtimes = Join-Path $moduleDir 'runtimes'
$shimSource = Join-Path (Join-Path $moduleDir 'src') 'MSCommerce.Native.cs'
$shimAssembly = Join-Path (Join-Path $moduleDir 'bin') 'MSCommerce.Native.dll'
# The flags of build.sh and tests/powershell/shim.py (csc.exe takes them too).
$mcsFlags = @('-noconfig', '-langversion:5', '-target:library', '-r:System.dll', '-warnaserror+')

function Invoke-Native {
    param([string] $FilePath, [string[]] $Arguments)
    & $FilePath @Arguments
    if ($LASTEXITCODE -ne 0) {
        throw "$FilePath $($Arguments -join ' ') failed with exit code $LASTEXITCODE"
    }
}

function Build-Runtime {
    param(
        [string] $Rid,
        [string] $FileName,
        [string] $Target
    )
    $cargoArgs = @('build', '--release', '--lib', '--no-default-features')
    $from = Join-Path (Join-Path $targetDir 'release') $FileName
    if ($Target) {
        $installed = & rustup target list --installed
        if ($installed -notcontains $Target) {
            Invoke-Native -FilePath 'rustup' -Arguments @('target', 'add', $Target)
        }
        $cargoArgs += @('--target', $Target)
        $from = Join-Path (Join-Path (Join-Path $targetDir $Target) 'release') $FileName
    }
    Push-Location $root
    try {
        Invoke-Native -FilePath 'cargo' -Arguments $cargoArgs
    }
    finally {
        Pop-Location
    }
    $to = Join-Path (Join-Path $runtimes $Rid) 'native'
    New-Item -ItemType Directory -Force -Path $to | Out-Null
    Copy-Item -LiteralPath $from -Destination (Join-Path $to $FileName) -Force
    $size = (Get-Item -LiteralPath $from).Length
    Write-Host "build.ps1: ${Rid}: $(Join-Path $to $FileName) ($size bytes)"
}

function Build-Shim {
    param([bool] $OnWindows)
    $binDir = Split-Path -Parent $shimAssembly
    New-Item -ItemType Directory -Force -Path $binDir | Out-Null
    # Compiled to a temporary file, then copied over the target: a failed compile leaves the old one.
    $temporary = Join-Path ([System.IO.Path]::GetTempPath()) ('MSCommerce.Native.{0}.dll' -f [guid]::NewGuid().ToString('N'))
    $compiler = $null
    $mcs = Get-Command -Name 'mcs' -CommandType Application -ErrorAction Ignore | Select-Object -First 1
    $csc = $null
    if ($OnWindows) {
        foreach ($framework in @('Framework64', 'Framework')) {
            $candidate = Join-Path $env:WINDIR "Microsoft.NET\$framework\v4.0.30319\csc.exe"
            if (Test-Path -LiteralPath $candidate) {
                $csc = $candidate
                break
            }
        }
    }
    try {
        if ($null -ne $mcs) {
            Invoke-Native -FilePath $mcs.Path -Arguments ($mcsFlags + @("-out:$temporary", $shimSource))
            $compiler = 'mcs'
        }
        elseif ($null -ne $csc) {
            # The .NET Framework's own compiler: C# 5, references the framework's mscorlib.
            Invoke-Native -FilePath $csc -Arguments ($mcsFlags + @('-nologo', "-out:$temporary", $shimSource))
            $compiler = 'csc.exe'
        }
        elseif ($OnWindows -and $PSVersionTable.PSEdition -ne 'Core') {
            # Windows PowerShell 5.1 compiles against the .NET Framework as C# 5, like csc.exe.
            $code = [System.IO.File]::ReadAllText($shimSource, [System.Text.Encoding]::UTF8)
            Add-Type -TypeDefinition $code -Language CSharp -OutputAssembly $temporary -OutputType Library -ErrorAction Stop
            $compiler = 'Add-Type -OutputAssembly'
        }
        else {
            # PowerShell 7's Add-Type would bind the assembly to its own .NET version, which
            # Windows PowerShell 5.1 and older PowerShell 7 releases cannot load.
            Write-Warning ("build.ps1: no C# 5 compiler (mcs) found: $shimAssembly not built; the module will compile " +
                'the shim with Add-Type at each import (Debian: apt-get install mono-mcs; macOS: brew install mono).')
            return
        }
        try {
            Copy-Item -LiteralPath $temporary -Destination $shimAssembly -Force
        }
        catch {
            throw "build.ps1: could not replace $shimAssembly (is the module imported in a running PowerShell? close it and run again): $($_.Exception.Message)"
        }
        $size = (Get-Item -LiteralPath $shimAssembly).Length
        Write-Host "build.ps1: shim ($compiler): $shimAssembly ($size bytes)"
    }
    finally {
        if (Test-Path -LiteralPath $temporary) {
            Remove-Item -LiteralPath $temporary -Force -ErrorAction SilentlyContinue
        }
    }
}

# Which OS and processor: PowerShell 6+ has $IsWindows/$IsLinux/$IsMacOS; Windows PowerShell 5.1
# runs on Windows only.
$onWindows = $true
$onMac = $false
if ($PSVersionTable.PSVersion.Major -ge 6) {
    $onWindows = $IsWindows
    $onMac = $IsMacOS
}
$arch = $null
try {
    $arch = [System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture.ToString()
}
catch {
    $arch = $null
}
if (-not $arch) {
    # .NET Framework before 4.7.1 has no RuntimeInformation.
    $arch = $env:PROCESSOR_ARCHITEW6432
    if (-not $arch) {
        $arch = $env:PROCESSOR_ARCHITECTURE
    }
}
switch -Regex ($arch) {
    '^(X64|AMD64)$' { $cpu = 'x64' }
    '^(X86)$' { $cpu = 'x86' }
    '^(Arm64|ARM64)$' { $cpu = 'arm64' }
    default { throw "build.ps1: unknown processor architecture '$arch'" }
}

if ($PackOnly) {
    & (Join-Path (Join-Path $root 'tools') 'package.ps1') -PackOnly
    return
}
if ($Package -and -not $onWindows) {
    # One way to build the release on Linux: build.sh's (zig, mingw-w64, the shim, tools/package.ps1).
    Invoke-Native -FilePath 'bash' -Arguments @((Join-Path $root 'build.sh'), 'package')
    return
}
if ($Package) {
    foreach ($rid in @('win-x64', 'win-x86', 'win-arm64')) {
        $old = Join-Path $runtimes $rid
        if (Test-Path -LiteralPath $old) {
            Remove-Item -LiteralPath $old -Recurse -Force
        }
    }
}

if (-not $ShimOnly) {
    if ($onWindows) {
        if ($AllArchitectures -or $Package) {
            Build-Runtime -Rid 'win-x64' -FileName 'mscommerce.dll' -Target 'x86_64-pc-windows-msvc'
            Build-Runtime -Rid 'win-x86' -FileName 'mscommerce.dll' -Target 'i686-pc-windows-msvc'
            if ($AllArchitectures) {
                Build-Runtime -Rid 'win-arm64' -FileName 'mscommerce.dll' -Target 'aarch64-pc-windows-msvc'
            }
        }
        else {
            Build-Runtime -Rid "win-$cpu" -FileName 'mscommerce.dll'
        }
    }
    elseif ($onMac) {
        Build-Runtime -Rid "osx-$cpu" -FileName 'libmscommerce.dylib'
    }
    else {
        Build-Runtime -Rid "linux-$cpu" -FileName 'libmscommerce.so'
        if ($Windows) {
            Build-Runtime -Rid 'win-x64' -FileName 'mscommerce.dll' -Target 'x86_64-pc-windows-gnu'
            Build-Runtime -Rid 'win-x86' -FileName 'mscommerce.dll' -Target 'i686-pc-windows-gnu'
            Write-Host 'build.ps1: win-arm64 is built on Windows only (-AllArchitectures)'
        }
    }
    if ($AllArchitectures -and -not $onWindows) {
        Write-Warning 'build.ps1: -AllArchitectures applies on Windows; use -Windows here to cross-build win-x64 and win-x86'
    }
}
Build-Shim -OnWindows $onWindows

if ($Package) {
    $shimBuilt = Join-Path (Join-Path $moduleDir 'bin') 'MSCommerce.Native.dll'
    if (-not (Test-Path -LiteralPath $shimBuilt)) {
        throw "build.ps1: the package needs the precompiled shim $shimBuilt, which was not built (see the warning above)"
    }
    & (Join-Path (Join-Path $root 'tools') 'package.ps1')
}
