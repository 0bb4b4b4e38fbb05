<#
.SYNOPSIS
Packs the staged PowerShell module into dist/: MSCommerce.<version>.nupkg, MSCommerce-<version>.zip and
SHA256SUMS.

.DESCRIPTION
The last step of `bash build.sh package` and `./build.ps1 -Package` (they build the libraries and the
C# shim first; run those, not this, unless re-packing after signing).

1. Stages the module into dist/MSCommerce/: the files of the manifest's FileList (the scripts, the
   format view, the help), the precompiled shim bin/MSCommerce.Native.dll and every library in
   runtimes/<rid>/native/ of ps-module/MSCommerce; not src/ (the shim's source, which only a source
   checkout without the shim compiles). A file of the module folder that is in none of these fails
   the step, so FileList keeps up with the module. The staged manifest's FileList is completed
   with the shim and the libraries: it names every file of the package.
2. Test-ModuleManifest of the staged manifest must be clean, and the staged folder must hold exactly
   the files its FileList names.
3. Publish-PSResource (Microsoft.PowerShell.PSResourceGet) into a temporary folder repository makes
   the .nupkg that Install-PSResource and Install-Module install; it is moved to dist/, which then
   is itself a folder repository (Register-PSResourceRepository -Name local -Uri dist -Trusted).
4. The zip holds MSCommerce/<version>/..., the layout Install-Module makes, so unzipping it into a
   folder of $env:PSModulePath installs the module. Entries are in name order with forward slashes
   and one timestamp ($env:SOURCE_DATE_EPOCH, else the last commit's time), so the same files
   make the same zip.
5. SHA256SUMS: sha256sum's format, for the .nupkg and the zip.

-PackOnly skips step 1 and packs dist/MSCommerce/ as it is: for a maintainer who signed its files
(Set-AuthenticodeSignature, see the README) after `build.sh package`.

Runs in Windows PowerShell 5.1 (with Microsoft.PowerShell.PSResourceGet installed) and PowerShell 7.4+.

.PARAMETER OutputDirectory
Where the package goes (default: dist/ of the checkout).

.PARAMETER PackOnly
Pack the staged folder <OutputDirectory>/MSCommerce as it is (after signing).
#>
[CmdletBinding()]
param(
    [string] $OutputDirectory,
    [switch] $PackOnly
)

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$root = Split-Path -Parent $PSScriptRoot
$source = Join-Path (Join-Path $root 'ps-module') 'MSCommerce'
if (-not $OutputDirectory) {
    $OutputDirectory = Join-Path $root 'dist'
}
$null = New-Item -ItemType Directory -Force -Path $OutputDirectory
$OutputDirectory = (Resolve-Path -LiteralPath $OutputDirectory).ProviderPath
$stage = Join-Path $OutputDirectory 'MSCommerce'
$shim = 'bin/MSCommerce.Native.dll'

function Write-Step([string] $Text) {
    Write-Host "package: $Text"
}

# Paths relative to $Folder, with forward slashes, sorted ordinally.
function Get-RelativeFile([string] $Folder) {
    $full = (Resolve-Path -LiteralPath $Folder).ProviderPath.TrimEnd([char[]]@('/', '\'))
    [string[]] $names = @(Get-ChildItem -LiteralPath $full -Recurse -Force -File | ForEach-Object {
            $_.FullName.Substring($full.Length + 1).Replace('\', '/')
        })
    [Array]::Sort($names, [StringComparer]::Ordinal)
    $names
}

function Get-ManifestFileList([string] $Path) {
    $data = Import-PowerShellDataFile -LiteralPath $Path
    if (-not $data.ContainsKey('FileList')) {
        throw "package: $Path has no FileList"
    }
    @($data.FileList | ForEach-Object { ([string]$_).Replace('\', '/') })
}

# The FileList block of a manifest ("    FileList = @(" ... "    )"), replaced by $Names.
function Set-ManifestFileList([string] $Path, [string[]] $Names) {
    $text = [System.IO.File]::ReadAllText($Path)
    $pattern = '(?ms)^(?<indent>[ \t]*)FileList(?<gap>[ \t]*)=[ \t]*@\(.*?^\k<indent>\)[ \t]*\r?$'
    $match = [regex]::Match($text, $pattern)
    if (-not $match.Success) {
        throw "package: no 'FileList = @(' ... ')' block in $Path"
    }
    $indent = $match.Groups['indent'].Value
    $newline = if ($text.Contains("`r`n")) { "`r`n" } else { "`n" }
    $lines = @("${indent}FileList$($match.Groups['gap'].Value)= @(")
    for ($i = 0; $i -lt $Names.Count; $i++) {
        $comma = if ($i -lt $Names.Count - 1) { ',' } else { '' }
        $lines += "$indent    '$($Names[$i])'$comma"
    }
    $lines += "$indent)"
    $text = $text.Substring(0, $match.Index) + ($lines -join $newline) + $text.Substring($match.Index + $match.Length)
    # The source's encoding: UTF-8, with a byte order mark if it had one.
    $bytes = [System.IO.File]::ReadAllBytes($Path)
    $bom = $bytes.Length -ge 3 -and $bytes[0] -eq 0xEF -and $bytes[1] -eq 0xBB -and $bytes[2] -eq 0xBF
    [System.IO.File]::WriteAllText($Path, $text, (New-Object System.Text.UTF8Encoding -ArgumentList $bom))
}

$manifestData = Import-PowerShellDataFile -LiteralPath (Join-Path $source 'MSCommerce.psd1')
$version = [string]$manifestData.ModuleVersion

# ------------------------------------------------------------------ 1. stage
if (-not $PackOnly) {
    $listed = @(Get-ManifestFileList (Join-Path $source 'MSCommerce.psd1'))
    foreach ($name in $listed) {
        if (-not (Test-Path -LiteralPath (Join-Path $source $name) -PathType Leaf)) {
            throw "package: FileList names '$name', which is not in $source"
        }
    }
    if (-not (Test-Path -LiteralPath (Join-Path $source $shim) -PathType Leaf)) {
        throw "package: $source/$shim is missing: build it first (build.sh or build.ps1 compile it with Mono's mcs or csc.exe)"
    }
    $libraries = @()
    if (Test-Path -LiteralPath (Join-Path $source 'runtimes')) {
        $libraries = @(Get-RelativeFile (Join-Path $source 'runtimes') | ForEach-Object { "runtimes/$_" })
    }
    $libraries = @($libraries | Where-Object { $_ -match '^runtimes/[a-z]+-[a-z0-9]+/native/(mscommerce\.dll|libmscommerce\.so|libmscommerce\.dylib)$' })
    if ($libraries.Count -eq 0) {
        throw "package: no library in $source/runtimes/<rid>/native/: build them first (bash build.sh package)"
    }
    $packaged = @($listed) + @($shim) + $libraries
    # Everything else in the module folder: the shim's source (src/), nothing more.
    foreach ($name in @(Get-RelativeFile $source)) {
        if ($packaged -contains $name -or $name.StartsWith('src/')) {
            continue
        }
        throw ("package: '$name' is in the module folder but not in the manifest's FileList: add it to FileList " +
            "(ps-module/MSCommerce/MSCommerce.psd1) if the module needs it, else remove it")
    }

    if (Test-Path -LiteralPath $stage) {
        Remove-Item -LiteralPath $stage -Recurse -Force
    }
    foreach ($name in $packaged) {
        $to = Join-Path $stage $name
        $null = New-Item -ItemType Directory -Force -Path (Split-Path -Parent $to)
        Copy-Item -LiteralPath (Join-Path $source $name) -Destination $to
    }
    [string[]] $complete = @($packaged)
    [Array]::Sort($complete, [StringComparer]::Ordinal)
    Set-ManifestFileList -Path (Join-Path $stage 'MSCommerce.psd1') -Names $complete
    Write-Step "staged $($complete.Count) files in $stage"
}
elseif (-not (Test-Path -LiteralPath (Join-Path $stage 'MSCommerce.psd1'))) {
    throw "package: -PackOnly packs $stage, which has no MSCommerce.psd1: run build.sh package (or build.ps1 -Package) first"
}

# --------------------------------------------------- 2. the staged manifest
$stagedManifest = Join-Path $stage 'MSCommerce.psd1'
$testErrors = @()
$tested = Test-ModuleManifest -Path $stagedManifest -ErrorAction SilentlyContinue -ErrorVariable testErrors -WarningVariable testWarnings
if ($testErrors.Count -gt 0 -or $null -eq $tested) {
    throw "package: Test-ModuleManifest $stagedManifest failed: $($testErrors -join '; ')"
}
if ($testWarnings.Count -gt 0) {
    throw "package: Test-ModuleManifest $stagedManifest warned: $($testWarnings -join '; ')"
}
if ([string]$tested.Version -ne $version) {
    throw "package: the staged manifest is version $($tested.Version), the module's $version"
}
[string[]] $listed = @(Get-ManifestFileList $stagedManifest)
[Array]::Sort($listed, [StringComparer]::Ordinal)
[string[]] $present = @(Get-RelativeFile $stage)
if (($listed -join "`n") -ne ($present -join "`n")) {
    $extra = @($present | Where-Object { $listed -notcontains $_ })
    $missing = @($listed | Where-Object { $present -notcontains $_ })
    throw "package: $stage holds files its FileList does not name [$($extra -join ', ')] or misses some it names [$($missing -join ', ')]"
}
Write-Step "Test-ModuleManifest: clean; version $version; FileList names exactly the $($present.Count) staged files"
foreach ($name in $present) {
    if ($name.StartsWith('runtimes/') -or $name -eq $shim) {
        $file = Get-Item -LiteralPath (Join-Path $stage $name)
        $hash = (Get-FileHash -LiteralPath $file.FullName -Algorithm SHA256).Hash.ToLowerInvariant()
        Write-Step ('  {0,-45} {1,9} bytes  sha256 {2}' -f $name, $file.Length, $hash)
    }
}
$rids = @($present | Where-Object { $_.StartsWith('runtimes/') } | ForEach-Object { $_.Split('/')[1] })
$absent = @('win-x64', 'win-x86', 'win-arm64', 'linux-x64', 'linux-arm64', 'osx-x64', 'osx-arm64' | Where-Object { $rids -notcontains $_ })
if ($absent.Count -gt 0) {
    Write-Step "no library for: $($absent -join ', ') (the module says so when imported there)"
}
if (-not $manifestData.PrivateData.PSData.ContainsKey('ProjectUri')) {
    Write-Step 'the manifest has no ProjectUri (the project has no public address yet): add it before publishing to a gallery'
}

# ------------------------------------------------------------- 3. the nupkg
$nupkgName = "MSCommerce.$version.nupkg"
$zipName = "MSCommerce-$version.zip"
foreach ($old in @($nupkgName, $zipName, 'SHA256SUMS')) {
    $path = Join-Path $OutputDirectory $old
    if (Test-Path -LiteralPath $path) {
        Remove-Item -LiteralPath $path -Force
    }
}
if ($null -eq (Get-Command -Name Publish-PSResource -ErrorAction SilentlyContinue)) {
    throw ('package: Publish-PSResource is missing: PowerShell 7.4+ has it; in Windows PowerShell 5.1: ' +
        'Install-Module Microsoft.PowerShell.PSResourceGet -Scope CurrentUser')
}
$repository = Join-Path ([System.IO.Path]::GetTempPath()) ('mscommerce-repository-' + [guid]::NewGuid().ToString('N'))
$repositoryName = 'MSCommercePackage' + [guid]::NewGuid().ToString('N').Substring(0, 8)
$null = New-Item -ItemType Directory -Path $repository
try {
    # A repository of its own, removed again: the user's registered repositories are left as they were.
    Register-PSResourceRepository -Name $repositoryName -Uri $repository -Trusted
    Publish-PSResource -Path $stage -Repository $repositoryName -SkipDependenciesCheck
    $made = @(Get-ChildItem -LiteralPath $repository -Filter '*.nupkg')
    if ($made.Count -ne 1 -or $made[0].Name -ne $nupkgName) {
        throw "package: Publish-PSResource made [$(@($made | ForEach-Object Name) -join ', ')], not $nupkgName"
    }
    Move-Item -LiteralPath $made[0].FullName -Destination (Join-Path $OutputDirectory $nupkgName)
}
finally {
    Unregister-PSResourceRepository -Name $repositoryName -ErrorAction SilentlyContinue
    Remove-Item -LiteralPath $repository -Recurse -Force -ErrorAction SilentlyContinue
}

# --------------------------------------------------------------- 4. the zip
Add-Type -AssemblyName System.IO.Compression
Add-Type -AssemblyName System.IO.Compression.FileSystem
# One timestamp for every entry: $env:SOURCE_DATE_EPOCH, else the last commit's time, else now.
$epoch = $env:SOURCE_DATE_EPOCH
if (-not $epoch -and $null -ne (Get-Command -Name git -CommandType Application -ErrorAction SilentlyContinue)) {
    $epoch = & git -C $root log -1 --format=%ct 2>$null
}
$stamp = [DateTimeOffset]::Now
if ($epoch) {
    $stamp = [DateTimeOffset]::FromUnixTimeSeconds([long]$epoch)
}
$zipPath = Join-Path $OutputDirectory $zipName
$stream = [System.IO.File]::Open($zipPath, [System.IO.FileMode]::CreateNew)
try {
    $archive = New-Object System.IO.Compression.ZipArchive -ArgumentList $stream, ([System.IO.Compression.ZipArchiveMode]::Create)
    try {
        foreach ($name in $present) {
            $entry = $archive.CreateEntry("MSCommerce/$version/$name", [System.IO.Compression.CompressionLevel]::Optimal)
            $entry.LastWriteTime = $stamp
            $to = $entry.Open()
            try {
                $bytes = [System.IO.File]::ReadAllBytes((Join-Path $stage $name))
                $to.Write($bytes, 0, $bytes.Length)
            }
            finally {
                $to.Dispose()
            }
        }
    }
    finally {
        $archive.Dispose()
    }
}
finally {
    $stream.Dispose()
}

# --------------------------------------------------------- 5. SHA256SUMS
$sums = foreach ($name in @($nupkgName, $zipName)) {
    $hash = (Get-FileHash -LiteralPath (Join-Path $OutputDirectory $name) -Algorithm SHA256).Hash.ToLowerInvariant()
    "$hash  $name"
}
[System.IO.File]::WriteAllText((Join-Path $OutputDirectory 'SHA256SUMS'), (($sums -join "`n") + "`n"))

foreach ($name in @($nupkgName, $zipName)) {
    $file = Get-Item -LiteralPath (Join-Path $OutputDirectory $name)
    $hash = (Get-FileHash -LiteralPath $file.FullName -Algorithm SHA256).Hash.ToLowerInvariant()
    Write-Step ('{0} ({1} bytes) sha256 {2}' -f $file.FullName, $file.Length, $hash)
}
Write-Step "$(Join-Path $OutputDirectory 'SHA256SUMS')"
