using LoKO.Server.Hosting;

var app = LoKOServer.Build(args);
app.Run();

public partial class Program;
