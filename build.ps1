<#
.SYNOPSIS
Builds the shipped native library of MSCommerce-rs and stages it into the PowerShell module.

.DESCRIPTION
Runs `cargo build --release --lib --no-default-features` (no emulator and no CLI inside the
library) and copies the result to ps-module/MSCommerce/runtimes/<rid>/native/, where the module
loads it from. The same steps as build.sh.

Without switches it builds for the current platform: win-x64, win-x86 or win-arm64 on Windows,
linux-x64 or linux-arm64 on Linux, osx-x64 or osx-arm64 on macOS.

.PARAMETER AllArchitectures
On Windows: build win-x64, win-x86 and win-arm64 (x86_64-, i686- and aarch64-pc-windows-msvc;
the rustup targets are added when missing). 32-bit Windows PowerShell loads only the win-x86 DLL.

.PARAMETER Windows
On Linux: also cross-build win-x64 and win-x86 with mingw-w64 (x86_64- and i686-pc-windows-gnu).

.EXAMPLE
./build.ps1

.EXAMPLE
./build.ps1 -AllArchitectures
#>
[CmdletBinding()]
param(
    [switch] $AllArchitectures,
    [switch] $Windows
)

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$root = $PSScriptRoot
$targetDir = $env:CARGO_TARGET_DIR
if ([string]::IsNullOrEmpty($targetDir)) {
    $targetDir = Join-Path $root 'target'
}
$runtimes = Join-Path (Join-Path (Join-Path $root 'ps-module') 'MSCommerce') 'runtimes'

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

if ($onWindows) {
    if ($AllArchitectures) {
        Build-Runtime -Rid 'win-x64' -FileName 'mscommerce.dll' -Target 'x86_64-pc-windows-msvc'
        Build-Runtime -Rid 'win-x86' -FileName 'mscommerce.dll' -Target 'i686-pc-windows-msvc'
        Build-Runtime -Rid 'win-arm64' -FileName 'mscommerce.dll' -Target 'aarch64-pc-windows-msvc'
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
