using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LoKO.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class LabelAdditions : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "LabelAdditionsJson",
                table: "tenants",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "LabelCount",
                table: "checkpoints",
                type: "INTEGER",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "LabelAdditionsJson",
                table: "tenants");

            migrationBuilder.DropColumn(
                name: "LabelCount",
                table: "checkpoints");
        }
    }
}
