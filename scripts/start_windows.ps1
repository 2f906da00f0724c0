# Start FinAlly in Docker on Windows: build the image if there is none (-Build rebuilds it), run it with the
# data volume, the port and .env, wait until it is healthy, print the URL and open the browser.
# Running it again while FinAlly runs only prints the URL (with -Build it replaces the container).
#   powershell -ExecutionPolicy Bypass -File scripts\start_windows.ps1 [-Build] [-Port 8000] [-NoBrowser]
param(
    [switch]$Build,
    [int]$Port = 8000,
    [switch]$NoBrowser
)
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..")

$Image = if ($env:FINALLY_IMAGE) { $env:FINALLY_IMAGE } else { "finally" }
$Name = if ($env:FINALLY_CONTAINER) { $env:FINALLY_CONTAINER } else { "finally" }
$Volume = if ($env:FINALLY_VOLUME) { $env:FINALLY_VOLUME } else { "finally-data" }
$Url = "http://localhost:$Port"

if (-not (Get-Command docker -ErrorAction SilentlyContinue)) {
    Write-Error "Docker is not installed (or not on PATH): install Docker Desktop, start it, and run this again."
}
docker info *> $null
if ($LASTEXITCODE -ne 0) { Write-Error "Docker is installed but not running: start Docker Desktop and run this again." }

function Open-Browser { if (-not $NoBrowser) { Start-Process $Url } }

docker image inspect $Image *> $null
if ($Build -or $LASTEXITCODE -ne 0) {
    Write-Host "Building the $Image image..."
    docker build -t $Image .
    if ($LASTEXITCODE -ne 0) { exit 1 }
}

$running = docker ps -q --filter "name=^/$Name$"
if ($running) {
    if (-not $Build) {
        Write-Host "FinAlly is already running at $Url"
        Open-Browser
        exit 0
    }
    Write-Host "Replacing the running container with the new image (the data volume stays)..."
    docker stop $Name *> $null
}
docker rm $Name *> $null  # a stopped container of ours, from an earlier run

$runArgs = @("run", "-d", "--name", $Name, "-p", "127.0.0.1:${Port}:8000", "-v", "${Volume}:/app/db")
if (Test-Path ".env") { $runArgs += @("--env-file", ".env") }
$runArgs += $Image
docker @runArgs | Out-Null
if ($LASTEXITCODE -ne 0) { exit 1 }

Write-Host -NoNewline "Starting FinAlly"
for ($i = 0; $i -lt 90; $i++) {
    $state = docker inspect -f "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}" $Name 2>$null
    if ($state -eq "running healthy") {
        Write-Host ""
        Write-Host "FinAlly is running at $Url (data in the Docker volume $Volume)"
        Open-Browser
        exit 0
    }
    if (-not ($state -like "running*")) {
        Write-Host ""
        docker logs --tail 50 $Name
        Write-Error "The container stopped ($state)."
    }
    Write-Host -NoNewline "."
    Start-Sleep -Seconds 1
}
Write-Host ""
Write-Error "FinAlly did not report healthy within 90 s; see: docker logs $Name"
