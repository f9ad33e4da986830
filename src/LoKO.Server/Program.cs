using LoKO.Engine.Onnx;
using LoKO.Server.Hosting;

TorchThreading.PreferSleepingWorkers();
NativeHeap.ReuseLargeBlocks();
WebApplication app;
try
{
    app = LoKOServer.Build(args);
}
catch (InvalidSettingException e)
{
    // One line naming the setting, not a stack trace.
    Console.Error.WriteLine($"LoKO cannot start: {e.Message}");
    return InvalidSettingException.ExitCode;
}
app.Run();
return 0;

public partial class Program;
