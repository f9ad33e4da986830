using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LoKO.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class ExampleIds : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "example_ids",
                columns: table => new
                {
                    TenantId = table.Column<string>(type: "TEXT", nullable: false),
                    ExampleId = table.Column<string>(type: "TEXT", nullable: false),
                    Sequence = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_example_ids", x => new { x.TenantId, x.ExampleId });
                    table.ForeignKey(
                        name: "FK_example_ids_tenants_TenantId",
                        column: x => x.TenantId,
                        principalTable: "tenants",
                        principalColumn: "TenantId",
                        onDelete: ReferentialAction.Cascade);
                });

            // The keys move out of the log (which compaction deletes) before their column goes.
            migrationBuilder.Sql(
                "INSERT INTO example_ids (TenantId, ExampleId, Sequence) SELECT TenantId, ExampleId, Sequence FROM examples WHERE ExampleId IS NOT NULL;");

            migrationBuilder.DropIndex(
                name: "IX_examples_TenantId_ExampleId",
                table: "examples");

            migrationBuilder.DropColumn(
                name: "ExampleId",
                table: "examples");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "ExampleId",
                table: "examples",
                type: "TEXT",
                nullable: true);

            migrationBuilder.Sql(
                "UPDATE examples SET ExampleId = (SELECT k.ExampleId FROM example_ids k WHERE k.TenantId = examples.TenantId AND k.Sequence = examples.Sequence);");

            migrationBuilder.CreateIndex(
                name: "IX_examples_TenantId_ExampleId",
                table: "examples",
                columns: new[] { "TenantId", "ExampleId" },
                unique: true,
                filter: "\"ExampleId\" IS NOT NULL");

            migrationBuilder.DropTable(
                name: "example_ids");
        }
    }
}
